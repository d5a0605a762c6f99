// Injects TLS into one Ray pod template through the splice editor: env and a read-only
// mount in every container, the volumes, and the mode's own edits (modes/*.ts).
import { isMap, isSeq, type Node, type YAMLMap, type YAMLSeq } from 'yaml';
import type { Item } from '../krm/resourceList.js';
import { autoscalerOptionsPath, fieldPath, groupPath } from '../ray/kinds.js';
import type { RayPod } from '../ray/pods.js';
import type { CertificateMode } from '../tls/modes/index.js';
import type { NodeEdit } from '../tls/modes/mode.js';
import { INIT_CONTAINER } from '../tls/modes/perPod.js';
import { MARKER_ANNOTATION, secretSource, tlsEnv, tlsMount, VOLUME } from '../tls/pod.js';
import type { PodSettings } from '../tls/settings.js';
import type { Json } from '../yaml/json.js';
import { mapAt, upsertList, upsertValue, type Conflict, type Target } from '../yaml/upsert.js';

/** What one pod gets: the mode (nodes), the client Secret (clients), the Services its certificate names. */
export interface PodChange {
  mode: CertificateMode;
  settings: PodSettings;
  clientSecret: string;
  services: string[];
}

/** Applies the pod's TLS setup through the splice editor; returns the conflicts found. */
export function inject(p: RayPod<Item>, change: PodChange): Conflict[] {
  const { mode, settings } = change;
  const node = p.source.node;
  const template = (p.ref.path.length ? node.getIn(p.ref.path, true) : node) as YAMLMap;
  const spec = template.get('spec', true) as Node | undefined;
  const base = fieldPath(p.ref.path);
  const at = (rest: string) => (base ? `${base}.${rest}` : rest);
  const marker = p.pod.annotations[MARKER_ANNOTATION];
  const rendered = `${mode.name}/${p.role}`;
  const t: Target = { editor: p.source.editor, doc: p.source.doc, owned: marker !== undefined, conflicts: [] };
  if (marker !== undefined && marker !== rendered) {
    const message = `this pod was rendered by ray-tls as ${marker}; render from the manifests without TLS to change the mode`;
    return [{ field: at(`metadata.annotations.${MARKER_ANNOTATION}`), current: marker, proposed: rendered, message }];
  }
  if (!isMap(spec)) return [{ field: at('spec'), current: undefined, proposed: {}, message: 'the pod template has no spec' }];
  const containers = spec.get('containers', true);
  if (!isSeq(containers) || !containers.items.every(isMap)) {
    return [{ field: at('spec.containers'), current: undefined, proposed: [], message: 'the pod template has no containers list' }];
  }
  const kubeRayGroup = p.ref.kuberay === 'head' || p.ref.kuberay === 'worker';
  const edit: NodeEdit = {
    target: t,
    pod: p,
    spec,
    ...(kubeRayGroup && { group: node.getIn(groupPath(p.ref), true) as YAMLMap }),
    at,
    services: change.services,
  };

  for (const listKey of ['initContainers', 'containers'] as const) {
    const list = spec.get(listKey, true);
    if (!isSeq(list)) continue;
    (list as YAMLSeq).items.forEach((c, i) => {
      if (!isMap(c) || c.get('name') === INIT_CONTAINER) return;
      const cField = at(`spec.${listKey}[${i}]`);
      const extra = p.role === 'node' && listKey === 'containers' ? (mode.containerEnv?.(edit, c, i, cField, settings) ?? []) : [];
      const env = [...tlsEnv(settings.mountPath), ...extra].map((value) => ({ value, keys: ['name'] }));
      upsertList(t, c, 'env', env, `${cField}.env`);
      upsertList(t, c, 'volumeMounts', [{ value: tlsMount(settings.mountPath), keys: ['name', 'mountPath'] }], `${cField}.volumeMounts`);
    });
  }
  const fsGroup = p.pod.fsGroup !== undefined;
  const volumes: Json[] = p.role === 'client' ? [{ name: VOLUME, secret: secretSource(change.clientSecret, fsGroup) }] : mode.nodeVolumes(settings, fsGroup);
  upsertList(t, spec, 'volumes', volumes.map((value) => ({ value, keys: ['name'] })), at('spec.volumes'));
  if (p.role === 'node') mode.editPod?.(edit, settings);
  injectAutoscaler(t, p, settings.mountPath);
  // Any conflict fails the run, and then no edit is written (see run.ts).
  if (t.conflicts.length) return t.conflicts;
  markPod(t, template, rendered);
  return [];
}

/**
 * KubeRay adds the in-tree autoscaler to the head pod at run time, with the env and mounts of
 * autoscalerOptions only; it talks to the GCS too, so it gets the TLS env and the head's mount.
 */
function injectAutoscaler(t: Target, p: RayPod<Item>, mountPath: string): void {
  const path = autoscalerOptionsPath(p.resource, p.ref);
  if (!path) return;
  const parent = p.source.node.getIn(path.slice(0, -1), true) as YAMLMap;
  const whenAbsent = { env: tlsEnv(mountPath), volumeMounts: [tlsMount(mountPath)] };
  const options = mapAt(t, parent, String(path[path.length - 1]), whenAbsent);
  if (!options) return;
  const field = fieldPath(path);
  upsertList(t, options, 'env', tlsEnv(mountPath).map((value) => ({ value, keys: ['name'] })), `${field}.env`);
  upsertList(t, options, 'volumeMounts', [{ value: tlsMount(mountPath), keys: ['name', 'mountPath'] }], `${field}.volumeMounts`);
}

/** Records on the pod template that ray-tls rendered it (so a later run may update its entries). */
function markPod(t: Target, template: YAMLMap, value: string): void {
  const metadata = mapAt(t, template, 'metadata', { annotations: { [MARKER_ANNOTATION]: value } });
  if (!metadata) return;
  const annotations = mapAt(t, metadata, 'annotations', { [MARKER_ANNOTATION]: value });
  if (!annotations) return;
  upsertValue(t, annotations, MARKER_ANNOTATION, value);
}
