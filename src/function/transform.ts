// The pipeline over decoded items: find Ray pods, inject TLS, plan the
// cert-manager resources, and say what happened. Pure: no I/O.
import { caChain, clientCertName, leafCertificate, NODES_CERT, serviceDnsNames, SHARED_CERT } from '../tls/certificates.js';
import type { Config } from '../config/config.js';
import { decideRole, fieldPath, kubeRayHeadServices, missingKubeRayTemplates, podTemplates, podView, ROLE_ANNOTATION, selects, SKIP_ANNOTATION, type Resource, type Role } from '../ray/discover.js';
import { inject, type RayPod } from './inject.js';
import { reconcileManaged, type Placement } from './managed.js';
import { INIT_CONTAINER, nodeSecret } from '../tls/pod.js';
import type { Item } from '../krm/resourceList.js';
import { about, type Result } from '../krm/results.js';
import { keyMaterialResult } from './validate.js';
import type { Json } from '../yaml/edit.js';
import { toJson } from '../yaml/read.js';

export type { Placement } from './managed.js';

export interface Outcome {
  newItems: Json[];
  /** Positions of items to drop (ray-tls resources no longer wanted). */
  dropped: Set<number>;
  results: Result[];
}

const namespaceOf = (r: Resource): string | undefined => r.metadata.namespace;

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

export function transform(items: Item[], config: Config, placement?: Placement): Outcome {
  const results: Result[] = [];
  const resources = items.map((item) => ({ item, resource: readResource(item) }));
  for (const { item, resource } of resources) {
    if (!resource) results.push({ severity: 'error', message: `items[${item.position}] has no apiVersion, kind or metadata.name: every item must be a Kubernetes resource` });
  }
  for (const { resource } of resources) {
    const leaked = resource && keyMaterialResult(resource, 'warning');
    if (leaked) results.push(leaked);
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
    for (const missing of missingKubeRayTemplates(resource)) {
      results.push(about(resource, 'error', `${missing} has no pod template: KubeRay cannot run this cluster; add ${missing}.template`, { path: `spec.${missing}` }));
    }
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
    // The DNS names of every Service that selects a node of this namespace, for the one node certificate.
    const nodeServiceNames = () => [...new Set(nodes.flatMap(servicesFor))].flatMap((s) => serviceDnsNames(s, namespace, config.clusterDomain));
    for (const p of nodes) {
      const workers = p.ref.kuberay === 'head' && nodes.some((q) => q.resource === p.resource && q.ref.kuberay === 'worker');
      if (workers && kubeRayHeadServices(p.resource, p.ref).unknown) {
        results.push(about(p.resource, 'warning', `${p.ref.where}: KubeRay names this cluster's head Service at run time, so the head certificate cannot name it and workers that dial it fail TLS verification; set ${fieldPath(p.ref.path.slice(0, -1))}.headService.metadata.name`));
      }
    }
    if (config.mode === 'shared' && nodes.length) {
      const dnsNames = [...nodeServiceNames(), 'localhost'];
      wanted.push(leafCertificate({ name: SHARED_CERT, namespace, usages: ['server auth', 'client auth'], dnsNames, ipAddresses: ['127.0.0.1'] }, config));
      warnShared(nodes, results);
    }
    if (config.mode === 'pod-dns' && nodes.length) {
      if (namespace === undefined) {
        for (const p of nodes) results.push(about(p.resource, 'error', 'pod-dns mode names nodes <ip>.<namespace>.pod.<cluster domain>: set metadata.namespace (or run after the step that sets it)', { path: 'metadata.namespace' }));
      } else {
        // Exact names before the wildcard: gRPC tries SANs in order (design.md §3.4).
        const dnsNames = [...nodeServiceNames(), 'localhost', `*.${namespace}.pod.${config.clusterDomain}`];
        wanted.push(leafCertificate({ name: NODES_CERT, namespace, usages: ['server auth', 'client auth'], dnsNames, ipAddresses: ['127.0.0.1'] }, config));
      }
    }
    for (const p of pods) {
      const clientSecret = clientCertName(clientWorkload(p));
      if (p.role === 'client') wanted.push(leafCertificate({ name: clientSecret, namespace, usages: ['client auth'] }, config));
      const conflicts = inject(p, config, servicesFor(p), clientSecret);
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
    const secrets = [...new Set(rayPods.map((p) => (p.role === 'client' ? clientCertName(clientWorkload(p)) : nodeSecret(config))))];
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

/**
 * The shared certificate cannot name a pod IP, which nobody knows before the pod starts,
 * and Ray dials every node at that IP, its own raylet too: verified on Ray 2.58, even a
 * lone head fails ("Failed to connect to GCS at address <pod IP>:6379"), and a second
 * node would be marked dead. So every node in shared mode gets the warning.
 */
function warnShared(nodes: RayPod[], results: Result[]): void {
  for (const p of nodes) {
    const message = `${p.ref.where}: shared mode gives this Ray node a certificate that does not name its pod IP; Ray dials every node at its pod IP, its own raylet included, so Ray fails to start and other nodes are marked dead. Use mode per-pod (the default) or pod-dns`;
    results.push(about(p.resource, 'warning', message));
  }
}

