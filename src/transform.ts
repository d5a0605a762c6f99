// The pipeline over decoded items: find Ray pods, inject TLS, plan the
// cert-manager resources, and say what happened. Pure: no I/O.
import { isMap, isSeq, type Node, type YAMLMap, type YAMLSeq } from 'yaml';
import { caChain, caSecretName, clientCertName, leafCertificate, MANAGED_BY, NODES_CERT, serviceDnsNames, SHARED_CERT, SHARED_SECRET } from './certificates.js';
import { kubeRayNodeAddress, podDnsEnv, rewriteRayStart } from './podDns.js';
import type { Config } from './config.js';
import { decideRole, kubeRayHeadServices, podTemplates, podView, ROLE_ANNOTATION, selects, SKIP_ANNOTATION, type PodTemplateRef, type PodView, type Resource, type Role } from './discover.js';
import { initContainer, INIT_CONTAINER, MARKER_ANNOTATION, tlsEnv, tlsMount, tlsVolumes } from './podTls.js';
import type { Item } from './resourceList.js';
import { about, type Result } from './results.js';
import { deepEqual, mapAt, upsertList, upsertValue, type Target } from './upsert.js';
import { carriesKey } from './validate.js';
import type { Json } from './yamlEdit.js';
import { toJson } from './yamlRead.js';

export interface Outcome {
  newItems: Json[];
  /** Positions of items to drop (ray-tls resources no longer wanted). */
  dropped: Set<number>;
  results: Result[];
}

interface RayPod {
  item: Item;
  resource: Resource;
  ref: PodTemplateRef;
  pod: PodView;
  role: Exclude<Role, 'none'>;
  why: string;
}

const MANAGED_KINDS = new Set(['Issuer', 'Certificate']);
const namespaceOf = (r: Resource): string | undefined => r.metadata.namespace;
const keyOf = (r: { kind: string; metadata: { name: string; namespace?: string } }) => `${r.kind}/${r.metadata.namespace ?? ''}/${r.metadata.name}`;

/** `spec.template` + `.spec.containers[0]` style paths for results. */
function fieldPath(path: (string | number)[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

/** The items that are Kubernetes resources (apiVersion, kind, metadata.name), as plain values. */
export function readResources(items: Item[]): Resource[] {
  return items.flatMap((item) => readResource(item) ?? []);
}

function readResource(item: Item): Resource | undefined {
  const v = toJson(item.node, item.doc) as Record<string, Json>;
  const md = v.metadata as Record<string, Json> | undefined;
  if (typeof v.apiVersion !== 'string' || typeof v.kind !== 'string' || !md || typeof md.name !== 'string') return undefined;
  return v as unknown as Resource;
}

/** Where new items go under kpt (undefined elsewhere): the file, and the highest index already used there. */
export interface Placement {
  path: string;
  maxIndex: number;
}

export function transform(items: Item[], config: Config, placement?: Placement): Outcome {
  const results: Result[] = [];
  const resources = items.map((item) => ({ item, resource: readResource(item) }));
  for (const { item, resource } of resources) {
    if (!resource) results.push({ severity: 'error', message: `items[${item.position}] has no apiVersion, kind or metadata.name: every item must be a Kubernetes resource` });
  }
  for (const { resource: r } of resources) {
    const key = r && r.kind === 'Secret' && r.apiVersion === 'v1' ? carriesKey(r) : undefined;
    if (r && key) results.push(about(r, 'warning', `this Secret carries key material (${key}) in the manifests: keep keys out of version control; let cert-manager issue them, or create the Secret from files (ray-tls certs)`, { path: `data.${key}` }));
  }
  const services = resources.flatMap(({ resource: r }) =>
    r && r.kind === 'Service' && r.apiVersion === 'v1'
      ? [{ name: r.metadata.name, namespace: namespaceOf(r), selector: ((r.spec as Record<string, Json> | undefined)?.selector ?? {}) as Record<string, string> }]
      : [],
  );

  const rayPods: RayPod[] = [];
  for (const { item, resource } of resources) {
    if (!resource) continue;
    const refs = podTemplates(resource);
    if (!refs.length) continue;
    if (resource.metadata.annotations?.[SKIP_ANNOTATION] === 'true') {
      results.push(about(resource, 'info', `skipped: annotation ${SKIP_ANNOTATION}: "true"`));
      continue;
    }
    for (const ref of refs) {
      const pod = podView(resource, ref);
      const { role, why, ignored } = decideRole(resource, ref, pod, config.clientSelector);
      if (ignored !== undefined) results.push(about(resource, 'warning', `${ref.where}: annotation ${ROLE_ANNOTATION}: ${JSON.stringify(ignored)} is not node, client or none; ignored (detected: ${role})`));
      if (role !== 'none') rayPods.push({ item, resource, ref, pod, role, why });
    }
  }

  const owned: Target['conflicts'] = [];
  const byNamespace = new Map<string | undefined, RayPod[]>();
  for (const p of rayPods) byNamespace.set(namespaceOf(p.resource), [...(byNamespace.get(namespaceOf(p.resource)) ?? []), p]);

  const wanted: Json[] = [];
  for (const [namespace, pods] of byNamespace) {
    wanted.push(...caChain(namespace, config));
    const nodes = pods.filter((p) => p.role === 'node');
    const servicesFor = (p: RayPod) => [
      ...services.filter((s) => s.namespace === namespace && selects(s.selector, p.pod.labels)).map((s) => s.name),
      ...kubeRayHeadServices(p.resource, p.ref).names,
    ];
    for (const p of nodes) {
      const workers = p.ref.kuberay === 'head' && nodes.some((q) => q.resource === p.resource && q.ref.kuberay === 'worker');
      if (workers && kubeRayHeadServices(p.resource, p.ref).unknown) {
        results.push(about(p.resource, 'warning', `${p.ref.where}: KubeRay names this cluster's head Service at run time, so the head certificate cannot name it and workers that dial it fail TLS verification; set ${fieldPath(p.ref.path.slice(0, -1))}.headService.metadata.name`));
      }
    }
    if (config.mode === 'shared' && nodes.length) {
      const names = [...new Set(nodes.flatMap(servicesFor))];
      wanted.push(
        leafCertificate(
          { name: SHARED_CERT, namespace, usages: ['server auth', 'client auth'], dnsNames: [...names.flatMap((s) => serviceDnsNames(s, namespace, config.clusterDomain)), 'localhost'], ipAddresses: ['127.0.0.1'] },
          config,
        ),
      );
      warnMultiNode(nodes, results);
    }
    if (config.mode === 'pod-dns' && nodes.length) {
      if (namespace === undefined) {
        for (const p of nodes) results.push(about(p.resource, 'error', 'pod-dns mode names nodes <ip>.<namespace>.pod.<cluster domain>: set metadata.namespace (or run after the step that sets it)', { path: 'metadata.namespace' }));
      } else {
        const names = [...new Set(nodes.flatMap(servicesFor))];
        // Exact names before the wildcard: gRPC tries SANs in order (design.md §3.4).
        const dnsNames = [...names.flatMap((s) => serviceDnsNames(s, namespace, config.clusterDomain)), 'localhost', `*.${namespace}.pod.${config.clusterDomain}`];
        wanted.push(leafCertificate({ name: NODES_CERT, namespace, usages: ['server auth', 'client auth'], dnsNames, ipAddresses: ['127.0.0.1'] }, config));
      }
    }
    for (const p of pods) {
      const clientSecret = clientCertName(clientWorkload(p));
      if (p.role === 'client') wanted.push(leafCertificate({ name: clientSecret, namespace, usages: ['client auth'] }, config));
      const conflicts = inject(p, config, servicesFor(p), clientSecret);
      owned.push(...conflicts);
      for (const c of conflicts) {
        const fix = c.fix ?? `; ray-tls needs ${JSON.stringify(c.proposed)}. Remove or rename the entry`;
        results.push(about(p.resource, 'error', `${c.message}${fix}, or annotate the resource with ${SKIP_ANNOTATION}: "true" to leave it alone`, { path: c.field, ...(c.current !== undefined && { currentValue: c.current }), proposedValue: c.proposed }));
      }
      if (!conflicts.length) results.push(about(p.resource, 'info', `${p.ref.where}: Ray ${p.role} (${p.why}); ${describe(p, config)}`));
    }
  }

  // Without cert-manager the Secrets come from `ray-tls certs` (or your PKI): emit none of its resources.
  const { newItems, dropped } = reconcileManaged(resources, config.certManager ? wanted : [], results, placement);
  if (!config.certManager && rayPods.length) {
    const secrets = [...new Set(rayPods.flatMap((p) => (p.role === 'client' ? [clientCertName(clientWorkload(p))] : config.mode === 'shared' ? [SHARED_SECRET] : [caSecretName(config)])))];
    results.push({ severity: 'info', message: `certManager: false: create these Secrets in each namespace before the pods start (ray-tls certs prints the commands): ${secrets.join(', ')}` });
  }
  if (rayPods.some((p) => p.role === 'node')) {
    results.push({ severity: 'warning', message: "Ray's dashboard (port 8265) and job submission API are plain HTTP: RAY_USE_TLS does not cover them; keep port 8265 off public networks" });
    results.push({ severity: 'info', message: 'Ray reads its certificates once at start: after cert-manager renews a certificate, restart the Ray pods (kubectl rollout restart) to use it' });
  }
  if (results.some((r) => r.severity === 'error')) return { newItems: [], dropped: new Set(), results };
  if (!rayPods.length) results.push({ severity: 'info', message: 'no Ray pods found: nothing changed (a Ray node runs `ray start`; a client sets a ray:// address)' });
  else {
    const count = (role: Role) => rayPods.filter((p) => p.role === role).length;
    results.push({ severity: 'info', message: `ray-tls (${config.mode}): ${count('node')} Ray node pod template(s), ${count('client')} client pod template(s), ${newItems.length} new resource(s)` });
  }
  return { newItems, dropped, results };
}

/** The name a client's certificate is named after: its workload (a RayJob's submitter gets a suffix). */
const clientWorkload = (p: RayPod): string => p.resource.metadata.name + (p.ref.kuberay === 'submitter' ? '-submitter' : '');

function describe(p: RayPod, config: Config): string {
  if (p.role === 'client') return `mounts its client certificate at ${config.mountPath}`;
  if (config.mode === 'per-pod') return `init container ${INIT_CONTAINER} issues a certificate for the pod IP into ${config.mountPath}`;
  if (config.mode === 'pod-dns') return `advertises its pod DNS name and mounts the namespace's node certificate at ${config.mountPath}`;
  return `mounts the shared certificate at ${config.mountPath}`;
}

function warnMultiNode(nodes: RayPod[], results: Result[]): void {
  const multi = nodes.filter((p) => {
    const spec = p.resource.spec as Record<string, Json> | undefined;
    return p.ref.kuberay === 'worker' || p.resource.kind === 'DaemonSet' || (typeof spec?.replicas === 'number' && spec.replicas > 1);
  });
  const offenders = nodes.length > 1 ? nodes : multi;
  for (const p of offenders) {
    results.push(
      about(p.resource, 'warning', `${p.ref.where}: shared mode gives every Ray node one certificate that does not name the pod IP; Ray marks a node whose certificate lacks its address dead, so a multi-node cluster fails. Use mode per-pod (the default)`),
    );
  }
}

/** Applies the pod's TLS setup through the splice editor; returns the conflicts found. */
function inject(p: RayPod, config: Config, services: string[], clientSecret: string): Target['conflicts'] {
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
  upsertList(t, spec, 'volumes', tlsVolumes(config, p.role, clientSecret).map((value) => ({ value, keys: ['name'] })), at('spec.volumes'));
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

function rayContainer(pod: PodView): Record<string, Json> | undefined {
  return pod.containers.find((c) => /\bray\s+start\b/.test(JSON.stringify([c.command, c.args]))) ?? pod.containers[0];
}

/** Records on the pod template that ray-tls rendered it (so a later run may update its entries). */
function markPod(t: Target, template: YAMLMap, value: string): void {
  const metadata = mapAt(t, template, 'metadata', { annotations: { [MARKER_ANNOTATION]: value } });
  if (!metadata) return;
  const annotations = mapAt(t, metadata, 'annotations', { [MARKER_ANNOTATION]: value });
  if (!annotations) return;
  upsertValue(t, annotations, MARKER_ANNOTATION, value, '');
}

/** Emits wanted resources: unchanged ones stay, changed ones are rewritten in place, stale ones go. */
function reconcileManaged(resources: { item: Item; resource: Resource | undefined }[], wanted: Json[], results: Result[], placement: Placement | undefined): { newItems: Json[]; dropped: Set<number> } {
  const existing = new Map<string, { item: Item; resource: Resource }>();
  for (const { item, resource } of resources) {
    if (resource && MANAGED_KINDS.has(resource.kind) && resource.apiVersion.startsWith('cert-manager.io/') && resource.metadata.labels?.['app.kubernetes.io/managed-by'] === MANAGED_BY['app.kubernetes.io/managed-by']) {
      existing.set(keyOf(resource), { item, resource });
    }
  }
  const newItems: Json[] = [];
  const placeNew = kptPlacement(placement);
  for (const w of wanted) {
    const key = keyOf(w as unknown as Resource);
    const have = existing.get(key);
    existing.delete(key);
    if (!have) {
      newItems.push(placeNew(w));
      continue;
    }
    const { annotations, ...haveMeta } = have.resource.metadata;
    const comparable = { ...have.resource, metadata: haveMeta } as unknown as Json;
    if (deepEqual(comparable, w)) continue;
    // Keep the item's own annotations (kpt's path and index), replace the rest.
    const merged = { ...(w as Record<string, Json>), metadata: { ...((w as Record<string, Json>).metadata as Record<string, Json>), ...(annotations && { annotations }) } };
    have.item.editor.replace(have.item.node, merged, false);
    results.push(about(have.resource, 'info', 'updated to match the config'));
  }
  const dropped = new Set<number>();
  for (const { item, resource } of existing.values()) {
    dropped.add(item.position);
    results.push(about(resource, 'info', 'removed: ray-tls emitted it earlier and no Ray pod needs it now'));
  }
  return { newItems, dropped };
}

/** Under kpt new items go to their own file, after any item already there; elsewhere they get no annotations. */
function kptPlacement(placement: Placement | undefined): (item: Json) => Json {
  if (!placement) return (item) => item;
  let next = placement.maxIndex + 1;
  return (item) => {
    const index = String(next++);
    const o = item as Record<string, Json>;
    const metadata = o.metadata as Record<string, Json>;
    const placed = { 'config.kubernetes.io/path': placement.path, 'config.kubernetes.io/index': index, 'internal.config.kubernetes.io/path': placement.path, 'internal.config.kubernetes.io/index': index };
    return { ...o, metadata: { ...metadata, annotations: { ...((metadata.annotations as Record<string, Json>) ?? {}), ...placed } } };
  };
}
