// Where pod templates live in each kind: one table, then roles. A pod is a Ray
// node (runs `ray start` or is a KubeRay head/worker), a Ray client (connects
// to a cluster through `ray://`, or matches the config's clientSelector), or not Ray.
import type { Json } from '../yaml/edit.js';

export type Path = (string | number)[];
export type Role = 'node' | 'client' | 'none';

export const ROLE_ANNOTATION = 'ray-tls.io/role';
export const SKIP_ANNOTATION = 'ray-tls.io/skip';

export interface Resource {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string>; labels?: Record<string, string> };
  [key: string]: Json | undefined;
}

/** `spec.template` + `.spec.containers[0]` style paths for results. */
export function fieldPath(path: Path): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

export interface PodTemplateRef {
  /** Path from the resource to the pod template (a map with metadata and spec); [] for a Pod. */
  path: Path;
  /** What the template is, for messages: "spec.template", "workerGroupSpecs[1] (gpu)". */
  where: string;
  kuberay?: 'head' | 'worker' | 'submitter';
}

const WORKLOADS: Record<string, string[]> = {
  Deployment: ['apps/'],
  StatefulSet: ['apps/'],
  DaemonSet: ['apps/', 'extensions/'],
  ReplicaSet: ['apps/', 'extensions/'],
  Job: ['batch/'],
  ReplicationController: ['v1'],
};
const KUBERAY = /^ray\.io\/(v1|v1alpha1)$/;

/** Kinds whose items the function must parse: pod carriers and the Services that name them. */
export const POD_KINDS = new Set([...Object.keys(WORKLOADS), 'CronJob', 'Pod', 'PodTemplate', 'RayCluster', 'RayJob', 'RayService']);

const get = (obj: Json | Resource | undefined, path: Path): Json | undefined =>
  path.reduce<Json | undefined>((o, k) => (o && typeof o === "object" ? (o as Record<string, Json>)[k as string] : undefined), obj as Json);

function rayClusterTemplates(spec: Json | undefined, base: Path): PodTemplateRef[] {
  const refs: PodTemplateRef[] = [];
  if (get(spec, ['headGroupSpec', 'template'])) refs.push({ path: [...base, 'headGroupSpec', 'template'], where: 'headGroupSpec', kuberay: 'head' });
  const groups = get(spec, ['workerGroupSpecs']);
  if (Array.isArray(groups)) {
    groups.forEach((g, i) => {
      if (get(g, ['template'])) {
        const name = get(g, ['groupName']);
        refs.push({ path: [...base, 'workerGroupSpecs', i, 'template'], where: `workerGroupSpecs[${i}]${typeof name === 'string' ? ` (${name})` : ''}`, kuberay: 'worker' });
      }
    });
  }
  return refs;
}

/** Every pod template of a resource, by kind and API group. */
export function podTemplates(r: Resource): PodTemplateRef[] {
  const { kind, apiVersion } = r;
  const groups = WORKLOADS[kind];
  if (groups?.some((g) => (g.endsWith('/') ? apiVersion.startsWith(g) : apiVersion === g))) {
    return get(r, ['spec', 'template']) ? [{ path: ['spec', 'template'], where: 'spec.template' }] : [];
  }
  if (kind === 'CronJob' && apiVersion.startsWith('batch/')) {
    return get(r, ['spec', 'jobTemplate', 'spec', 'template']) ? [{ path: ['spec', 'jobTemplate', 'spec', 'template'], where: 'spec.jobTemplate.spec.template' }] : [];
  }
  if (kind === 'Pod' && apiVersion === 'v1') return [{ path: [], where: 'spec' }];
  if (kind === 'PodTemplate' && apiVersion === 'v1') return get(r, ['template']) ? [{ path: ['template'], where: 'template' }] : [];
  if (!KUBERAY.test(apiVersion)) return [];
  if (kind === 'RayCluster') return rayClusterTemplates(get(r, ['spec']), ['spec']);
  if (kind === 'RayService') return rayClusterTemplates(get(r, ['spec', 'rayClusterConfig']), ['spec', 'rayClusterConfig']);
  if (kind === 'RayJob') {
    const refs = rayClusterTemplates(get(r, ['spec', 'rayClusterSpec']), ['spec', 'rayClusterSpec']);
    if (get(r, ['spec', 'submitterPodTemplate'])) refs.push({ path: ['spec', 'submitterPodTemplate'], where: 'submitterPodTemplate', kuberay: 'submitter' });
    return refs;
  }
  return [];
}

export interface PodView {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  containers: Record<string, Json>[];
  initContainers: Record<string, Json>[];
  volumes: Record<string, Json>[];
  /** The pod's fsGroup: Secret files are then group-owned, so they need not be world-readable. */
  fsGroup?: number;
}

export function podView(r: Resource, ref: PodTemplateRef): PodView {
  const template = get(r, ref.path) as Record<string, Json> | undefined;
  const list = (k: string) => {
    const v = get(template, ['spec', k]);
    return Array.isArray(v) ? (v.filter((c) => c && typeof c === 'object' && !Array.isArray(c)) as Record<string, Json>[]) : [];
  };
  const strings = (k: string) => {
    const v = get(template, ['metadata', k]);
    return v && typeof v === 'object' && !Array.isArray(v) ? (Object.fromEntries(Object.entries(v).map(([a, b]) => [a, String(b)])) as Record<string, string>) : {};
  };
  const fsGroup = get(template, ['spec', 'securityContext', 'fsGroup']);
  return { labels: strings('labels'), annotations: strings('annotations'), containers: list('containers'), initContainers: list('initContainers'), volumes: list('volumes'), ...(typeof fsGroup === 'number' && { fsGroup }) };
}

const commandLine = (c: Record<string, Json>): string =>
  [c.command, c.args].flatMap((v) => (Array.isArray(v) ? v.map(String) : [])).join(' ');

export interface RoleDecision {
  role: Role;
  why: string;
  /** A role annotation with a value ray-tls does not know. */
  ignored?: string;
}

/** Decides a pod's role and says why; `ray start` wins over a client address. */
export function decideRole(r: Resource, ref: PodTemplateRef, pod: PodView, clientSelector: Record<string, string>): RoleDecision {
  const forced = pod.annotations[ROLE_ANNOTATION] ?? r.metadata.annotations?.[ROLE_ANNOTATION];
  if (forced === 'node' || forced === 'client' || forced === 'none') return { role: forced, why: `annotation ${ROLE_ANNOTATION}: ${forced}` };
  const decided = detectRole(ref, pod, clientSelector);
  return forced === undefined ? decided : { ...decided, ignored: forced };
}

function detectRole(ref: PodTemplateRef, pod: PodView, clientSelector: Record<string, string>): RoleDecision {
  if (ref.kuberay === 'head' || ref.kuberay === 'worker') return { role: 'node', why: `KubeRay ${ref.kuberay} group` };
  const starter = pod.containers.find((c) => /\bray\s+start\b/.test(commandLine(c)));
  if (starter) return { role: 'node', why: `container ${String(starter.name)} runs \`ray start\`` };
  if (ref.kuberay === 'submitter') return { role: 'client', why: 'KubeRay job submitter' };
  const selector = Object.entries(clientSelector);
  if (selector.length && selector.every(([k, v]) => pod.labels[k] === v)) return { role: 'client', why: 'labels match the config clientSelector' };
  for (const c of [...pod.containers, ...pod.initContainers]) {
    const env = Array.isArray(c.env) ? c.env : [];
    const address = env.find((e) => e && typeof e === 'object' && !Array.isArray(e) && typeof e.value === 'string' && e.value.startsWith('ray://')) as Record<string, Json> | undefined;
    if (address) return { role: 'client', why: `container ${String(c.name)} has ${String(address.name)}=${String(address.value)}` };
    if (/ray:\/\//.test(commandLine(c))) return { role: 'client', why: `container ${String(c.name)} connects to a ray:// address` };
  }
  return { role: 'none', why: 'no `ray start` and no ray:// address' };
}

/** True when a Service selector selects the pod's labels (an empty selector selects nothing here). */
export function selects(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  const entries = Object.entries(selector ?? {});
  return entries.length > 0 && entries.every(([k, v]) => labels[k] === String(v));
}

/**
 * The head Service KubeRay creates at run time (not in the input), which workers and
 * clients dial and so the head's certificate must name: `<name>-head-svc`, or
 * headGroupSpec.headService's name. A RayJob's cluster (and a RayService's own
 * clusters) get generated names: `unknown` then says the name cannot be known here.
 */
export function kubeRayHeadServices(r: Resource, ref: PodTemplateRef): { names: string[]; unknown: boolean } {
  if (ref.kuberay !== 'head') return { names: [] , unknown: false };
  const custom = get(r, [...ref.path.slice(0, -1), 'headService', 'metadata', 'name']);
  const names = typeof custom === 'string' ? [custom] : [];
  if (r.kind === 'RayCluster') return { names: names.length ? names : [`${r.metadata.name}-head-svc`], unknown: false };
  if (r.kind === 'RayService') return { names: [`${r.metadata.name}-head-svc`, ...names], unknown: !names.length };
  return { names, unknown: !names.length };
}

/** KubeRay groups without a pod template (a RayCluster needs a head; every worker group needs one). */
export function missingKubeRayTemplates(r: Resource): string[] {
  if (!KUBERAY.test(r.apiVersion)) return [];
  const base = r.kind === 'RayCluster' ? ['spec'] : r.kind === 'RayService' ? ['spec', 'rayClusterConfig'] : r.kind === 'RayJob' ? ['spec', 'rayClusterSpec'] : undefined;
  const spec = base && get(r, base);
  if (!base || (r.kind === 'RayJob' && spec === undefined)) return []; // a RayJob may run on an existing cluster
  const prefix = base.slice(1).map((p) => `${p}.`).join('');
  const missing = get(spec, ['headGroupSpec', 'template']) ? [] : [`${prefix}headGroupSpec`];
  const groups = get(spec, ['workerGroupSpecs']);
  if (Array.isArray(groups)) groups.forEach((g, i) => !get(g, ['template']) && missing.push(`${prefix}workerGroupSpecs[${i}]`));
  return missing;
}
