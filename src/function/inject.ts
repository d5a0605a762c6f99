// Injects TLS into one Ray pod template through the splice editor: env and a
// read-only mount in every container, the volumes, and per mode the init
// container (per-pod) or the advertised pod DNS name (pod-dns).
import { isMap, isSeq, type Node, type YAMLMap, type YAMLSeq } from 'yaml';
import type { Config } from '../config/config.js';
import { fieldPath, type PodTemplateRef, type PodView, type Resource, type Role } from '../ray/discover.js';
import { kubeRayNodeAddress, podDnsEnv, rewriteProbe, rewriteRayStart } from '../tls/modes/podDns.js';
import { initContainer, INIT_CONTAINER, MARKER_ANNOTATION, tlsEnv, tlsMount, tlsVolumes } from '../tls/pod.js';
import type { Item } from '../krm/resourceList.js';
import { mapAt, upsertList, upsertValue, type Target } from '../yaml/upsert.js';
import type { Json } from '../yaml/edit.js';
import { toJson } from '../yaml/read.js';

export interface RayPod {
  item: Item;
  resource: Resource;
  ref: PodTemplateRef;
  pod: PodView;
  role: Exclude<Role, 'none'>;
  why: string;
}

/** Applies the pod's TLS setup through the splice editor; returns the conflicts found. */
export function inject(p: RayPod, config: Config, services: string[], clientSecret: string): Target['conflicts'] {
  const template = (p.ref.path.length ? p.item.node.getIn(p.ref.path, true) : p.item.node) as YAMLMap;
  const spec = template.get('spec', true) as Node | undefined;
  const base = fieldPath(p.ref.path);
  const at = (rest: string) => (base ? `${base}.${rest}` : rest);
  const marker = p.pod.annotations[MARKER_ANNOTATION];
  const t: Target = { editor: p.item.editor, doc: p.item.doc, owned: marker !== undefined, conflicts: [] };
  if (marker !== undefined && marker !== `${config.mode}/${p.role}`) {
    t.conflicts.push({ field: at(`metadata.annotations.${MARKER_ANNOTATION}`), current: marker, proposed: `${config.mode}/${p.role}`, message: `this pod was rendered by ray-tls as ${marker}; render from the manifests without TLS to change the mode` });
    return t.conflicts;
  }
  if (!isMap(spec)) return [{ field: at('spec'), current: undefined, proposed: {}, message: 'the pod template has no spec' }];
  const containers = spec.get('containers', true);
  if (!isSeq(containers) || !containers.items.every(isMap)) return [{ field: at('spec.containers'), current: undefined, proposed: [], message: 'the pod template has no containers list' }];

  const env = tlsEnv(config);
  const mount = tlsMount(config);
  for (const listKey of ['initContainers', 'containers'] as const) {
    const list = spec.get(listKey, true);
    if (!isSeq(list)) continue;
    (list as YAMLSeq).items.forEach((c, i) => {
      if (!isMap(c) || c.get('name') === INIT_CONTAINER) return;
      const cField = at(`spec.${listKey}[${i}]`);
      const advertises = p.role === 'node' && config.mode === 'pod-dns' && listKey === 'containers' && advertisePodDns(t, p, c, i, config, cField);
      upsertList(t, c, 'env', [...env, ...(advertises ? podDnsEnv() : [])].map((value) => ({ value, keys: ['name'] })), `${cField}.env`);
      upsertList(t, c, 'volumeMounts', [{ value: mount, keys: ['name', 'mountPath'] }], `${cField}.volumeMounts`);
    });
  }
  upsertList(t, spec, 'volumes', tlsVolumes(config, p.role, clientSecret, p.pod.fsGroup !== undefined).map((value) => ({ value, keys: ['name'] })), at('spec.volumes'));
  if (p.role === 'node' && config.mode === 'per-pod') {
    const ray = rayContainer(p.pod);
    const image = config.initImage ?? (typeof ray?.image === 'string' ? ray.image : undefined);
    if (!image) return [{ field: at('spec.containers[0].image'), current: undefined, proposed: 'an image', message: 'no image to run the certificate init container; set initImage in the config' }];
    const init = initContainer(config, { image, imagePullPolicy: ray?.imagePullPolicy, securityContext: ray?.securityContext, services });
    upsertList(t, spec, 'initContainers', [{ value: init, keys: ['name'], first: true }], at('spec.initContainers'));
  }
  // Any conflict fails the run, and then no edit is written (see run.ts).
  if (t.conflicts.length) return t.conflicts;
  markPod(t, template, `${config.mode}/${p.role}`);
  return [];
}

/**
 * pod-dns: makes a Ray container advertise its pod DNS name. Returns true when the
 * container starts Ray (it then needs the downward-API env the name is built from).
 */
function advertisePodDns(t: Target, p: RayPod, c: YAMLMap, index: number, config: Config, field: string): boolean {
  if (p.ref.kuberay === 'head' || p.ref.kuberay === 'worker') {
    if (index !== 0) return false; // KubeRay runs Ray in the first container, from rayStartParams
    const group = p.item.node.getIn(p.ref.path.slice(0, -1), true) as YAMLMap;
    const [key, value] = kubeRayNodeAddress(config.clusterDomain);
    const params = group.get('rayStartParams', true) as Node | undefined;
    const groupField = fieldPath(p.ref.path.slice(0, -1));
    if (!isMap(params)) {
      if (params === undefined) t.editor.addPair(group, 'rayStartParams', { [key]: value });
      else t.conflicts.push({ field: `${groupField}.rayStartParams`, current: toJson(params, t.doc), proposed: { [key]: value }, message: 'rayStartParams must be a mapping' });
      return true;
    }
    const current = toJson(params.get(key, true) as Node | undefined, t.doc);
    if (current === undefined) t.editor.addPair(params, key, value);
    else if (current !== value) t.conflicts.push({ field: `${groupField}.rayStartParams.${key}`, current, proposed: value, message: 'rayStartParams already sets node-ip-address; in pod-dns mode the node must advertise its pod DNS name', fix: ': remove it' });
    return true;
  }
  const command = c.get('command', true) as Node | undefined;
  const args = c.get('args', true) as Node | undefined;
  const rewrite = rewriteRayStart(toJson(command, t.doc), toJson(args, t.doc), config.clusterDomain);
  if (rewrite === 'none') return false;
  aimProbes(t, c, config);
  if (rewrite === 'done') return true;
  if ('error' in rewrite) {
    t.conflicts.push({ field: `${field}.command`, current: toJson(command, t.doc), proposed: toJson(command, t.doc) ?? null, message: rewrite.error, fix: '' });
    return true;
  }
  for (const [key, node] of [['command', command], ['args', args]] as const) {
    const value = rewrite[key];
    if (node !== undefined) t.editor.replace(node, value, !!c.flow);
    else t.editor.addPair(c, key, value);
  }
  return true;
}

/** pod-dns: health-check probes at 127.0.0.1 would meet the pod IP, which the certificate lacks. */
function aimProbes(t: Target, c: YAMLMap, config: Config): void {
  for (const kind of ['readinessProbe', 'livenessProbe', 'startupProbe']) {
    const exec = c.getIn([kind, 'exec'], true);
    if (!isMap(exec)) continue;
    const command = exec.get('command', true) as Node | undefined;
    const rewritten = rewriteProbe(toJson(command, t.doc), config.clusterDomain);
    if (command && rewritten) t.editor.replace(command, rewritten, !!exec.flow);
  }
}

function rayContainer(pod: PodView): Record<string, Json> | undefined {
  return pod.containers.find((c) => /\bray\s+start\b/.test(JSON.stringify([c.command, c.args]))) ?? pod.containers[0];
}

/** Records on the pod template that ray-tls rendered it (so a later run may update its entries). */
function markPod(t: Target, template: YAMLMap, value: string): void {
  const metadata = mapAt(t, template, 'metadata', { annotations: { [MARKER_ANNOTATION]: value } });
  if (!metadata) return;
  const annotations = mapAt(t, metadata, 'annotations', { [MARKER_ANNOTATION]: value });
  if (!annotations) return;
  upsertValue(t, annotations, MARKER_ANNOTATION, value);
}

