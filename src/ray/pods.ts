// The one walk over Ray pods, shared by the transformer and the validator: every pod template
// of every resource, its role and why. A pod is a Ray node (runs `ray start`, or is a KubeRay
// head or worker), a Ray client (dials a `ray://` address, is a KubeRay job submitter, or
// matches the config's clientSelector), or not Ray.
import type { Resource } from '../krm/resource.js';
import { about, type Result } from '../krm/results.js';
import { getIn, isMap, type Json, type JsonMap, mapsOf } from '../yaml/json.js';
import {
  clusterSpecPath,
  fieldPath,
  inKubeRayGroup,
  kindOf,
  kubeRayLabels,
  missingKubeRayTemplates,
  operatorTls,
  type Path,
  type PodTemplateRef,
  podTemplates,
} from './kinds.js';
import { argvOf, findRayStart } from './rayStart.js';

export type Role = 'node' | 'client' | 'none';

export const ROLE_ANNOTATION = 'ray-tls.io/role';
export const SKIP_ANNOTATION = 'ray-tls.io/skip';

export interface PodView {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  containers: JsonMap[];
  initContainers: JsonMap[];
  volumes: JsonMap[];
  /** The pod's fsGroup: Secret files are then group-owned, so they need not be world-readable. */
  fsGroup?: number;
  /** The pod's runAsUser (a container's own overrides it). */
  runAsUser?: number;
  hostNetwork: boolean;
}

export function podView(r: Resource, ref: PodTemplateRef): PodView {
  const template = getIn(r as unknown as Json, ref.path);
  const list = (k: string) => mapsOf(getIn(template, ['spec', k]));
  const strings = (k: string) => {
    const v = getIn(template, ['metadata', k]);
    return isMap(v) ? Object.fromEntries(Object.entries(v).map(([a, b]) => [a, String(b)])) : {};
  };
  const fsGroup = getIn(template, ['spec', 'securityContext', 'fsGroup']);
  const runAsUser = getIn(template, ['spec', 'securityContext', 'runAsUser']);
  return {
    labels: kubeRayLabels(r, ref, strings('labels')),
    annotations: strings('annotations'),
    containers: list('containers'),
    initContainers: list('initContainers'),
    volumes: list('volumes'),
    ...(typeof fsGroup === 'number' && { fsGroup }),
    ...(typeof runAsUser === 'number' && { runAsUser }),
    hostNetwork: getIn(template, ['spec', 'hostNetwork']) === true,
  };
}

/** A container's env as name -> value (valueFrom entries map to undefined). */
export const envOf = (c: JsonMap | undefined): Map<Json | undefined, Json | undefined> =>
  new Map(mapsOf(c?.env).map((e) => [e.name, e.value]));

export const runsRayStart = (c: JsonMap): boolean => findRayStart(c.command, c.args) !== undefined;

/** The index of the container that runs Ray: KubeRay's first, else the first that runs `ray start`. */
export function rayContainerIndex(ref: PodTemplateRef, pod: PodView): number {
  if (inKubeRayGroup(ref)) return 0;
  return Math.max(0, pod.containers.findIndex(runsRayStart));
}

export interface RoleDecision {
  role: Role;
  why: string;
  /** A role annotation with a value ray-tls does not know. */
  ignored?: string;
  /** The opt-out annotation the validator does not honour (role none), as `key: value`. */
  optOut?: string;
}

/** Decides a pod's role and says why; `ray start` wins over a client address. */
export function decideRole(
  r: Resource,
  ref: PodTemplateRef,
  pod: PodView,
  clientSelector: Record<string, string>,
  honourOptOut = true,
): RoleDecision {
  const forced = pod.annotations[ROLE_ANNOTATION] ?? r.metadata.annotations?.[ROLE_ANNOTATION];
  if (forced === 'none' && !honourOptOut)
    return { ...detectRole(ref, pod, clientSelector), optOut: `${ROLE_ANNOTATION}: none` };
  if (forced === 'node' || forced === 'client' || forced === 'none')
    return { role: forced, why: `annotation ${ROLE_ANNOTATION}: ${forced}` };
  const decided = detectRole(ref, pod, clientSelector);
  return forced === undefined ? decided : { ...decided, ignored: forced };
}

function detectRole(ref: PodTemplateRef, pod: PodView, clientSelector: Record<string, string>): RoleDecision {
  if (inKubeRayGroup(ref)) return { role: 'node', why: `KubeRay ${ref.kuberay} group` };
  const starter = pod.containers.find(runsRayStart);
  if (starter) return { role: 'node', why: `container ${String(starter.name)} runs \`ray start\`` };
  if (ref.kuberay === 'submitter') return { role: 'client', why: 'KubeRay job submitter' };
  const selector = Object.entries(clientSelector);
  if (selector.length && selector.every(([k, v]) => pod.labels[k] === v))
    return { role: 'client', why: 'labels match the config clientSelector' };
  for (const c of [...pod.containers, ...pod.initContainers]) {
    const address = mapsOf(c.env).find((e) => typeof e.value === 'string' && e.value.startsWith('ray://'));
    if (address)
      return {
        role: 'client',
        why: `container ${String(c.name)} has ${String(address.name)}=${String(address.value)}`,
      };
    if (argvOf(c.command, c.args).some((a) => a.includes('ray://')))
      return { role: 'client', why: `container ${String(c.name)} connects to a ray:// address` };
  }
  return { role: 'none', why: 'no `ray start` and no ray:// address' };
}

/** True when a Service selector selects the pod's labels (an empty selector selects nothing here). */
export function selects(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  const entries = Object.entries(selector ?? {});
  return entries.length > 0 && entries.every(([k, v]) => labels[k] === String(v));
}

/** A Ray pod template found by the walk; `source` is what the caller walked (an item, or nothing). */
export interface RayPod<S = unknown> {
  source: S;
  resource: Resource;
  ref: PodTemplateRef;
  pod: PodView;
  role: Exclude<Role, 'none'>;
  why: string;
  /** The opt-out annotation the pod carries, when the walk did not honour it (the validator's). */
  optOut?: string;
}

/**
 * Every Ray pod template of the resources, and what the walk has to say: skipped resources,
 * unknown role annotations, KubeRay groups without a template, templates that are no map.
 * The validator does not honour opt-outs (`honourOptOut` false): a Ray pod is judged by what it runs.
 */
export function findRayPods<S>(
  entries: { resource: Resource; source: S }[],
  clientSelector: Record<string, string>,
  honourOptOut = true,
) {
  const pods: RayPod<S>[] = [];
  const notes: Result[] = [];
  for (const { resource, source } of entries) {
    for (const missing of missingKubeRayTemplates(resource)) {
      const message = `${missing} has no pod template: KubeRay cannot run this cluster; add ${missing}.template`;
      notes.push(about(resource, 'error', message, { path: `spec.${missing}` }));
    }
    const refs = podTemplates(resource);
    if (!kindOf(resource)) notes.push(...foreignRayPods(resource));
    if (!refs.length) continue;
    // The validator does not honour the skip annotation: it judges the pods (and names the annotation).
    const skipped = resource.metadata.annotations?.[SKIP_ANNOTATION] === 'true';
    const note = skipped && !honourOptOut ? undefined : skipNote(resource);
    if (note) {
      notes.push(note);
      continue;
    }
    for (const ref of refs) {
      const problem = templateProblem(getIn(resource as unknown as Json, ref.path), ref);
      if (problem) {
        notes.push(about(resource, 'error', problem.message, { path: problem.field }));
        continue;
      }
      const pod = podView(resource, ref);
      const decided = decideRole(resource, ref, pod, clientSelector, honourOptOut);
      const { role, why, ignored } = decided;
      const optOut = skipped ? `${SKIP_ANNOTATION}: "true"` : decided.optOut;
      if (ignored !== undefined) notes.push(ignoredRole(resource, ref, ignored, role));
      if (role !== 'none') pods.push({ source, resource, ref, pod, role, why, ...(optOut && { optOut }) });
    }
  }
  return { pods, notes };
}

/** Whether a container runs `ray start` or dials a ray:// address (what makes a pod Ray's). */
function rayWork(c: JsonMap): string | undefined {
  if (runsRayStart(c)) return `container ${String(c.name)} runs \`ray start\``;
  const address = mapsOf(c.env).some((e) => typeof e.value === 'string' && e.value.startsWith('ray://'));
  if (address || argvOf(c.command, c.args).some((a) => a.includes('ray://')))
    return `container ${String(c.name)} connects to a ray:// address`;
  return undefined;
}

/**
 * Ray in a kind ray-tls does not know (LeaderWorkerSet, KServe runtimes, Volcano Jobs...): every
 * pod spec in it (a map with a containers list) that runs Ray gets a warning naming where, since
 * it gets no TLS and its peers will refuse it.
 */
export function foreignRayPods(r: Resource): Result[] {
  if (r.metadata.annotations?.[SKIP_ANNOTATION] === 'true') return [];
  const out: Result[] = [];
  const walk = (v: Json | undefined, path: Path): void => {
    if (Array.isArray(v)) {
      v.forEach((x, i) => {
        walk(x, [...path, i]);
      });
    }
    if (!isMap(v)) return;
    const containers = Array.isArray(v.containers) ? v.containers.filter(isMap) : [];
    const why = [...containers, ...mapsOf(v.initContainers)].map(rayWork).find(Boolean);
    if (why) {
      const at = fieldPath([...path, 'containers']);
      const message =
        `${r.kind} ${at}: ${why}, but ray-tls does not know where ${r.kind} keeps its pod templates, so this ` +
        `pod gets no TLS and TLS peers will refuse it; render its Ray pods through a kind ray-tls knows (a ` +
        `Deployment, StatefulSet, Job, RayCluster...), or annotate it ${SKIP_ANNOTATION}: "true" to leave it`;
      out.push(about(r, 'warning', message, { path: at }));
      return;
    }
    for (const [k, x] of Object.entries(v)) if (k !== 'metadata' && k !== 'status') walk(x, [...path, k]);
  };
  walk(r as unknown as Json, []);
  return out;
}

const ignoredRole = (resource: Resource, ref: PodTemplateRef, ignored: string, role: Role): Result =>
  about(
    resource,
    'warning',
    `${ref.where}: annotation ${ROLE_ANNOTATION}: ${JSON.stringify(ignored)} is not node, client or none; ignored ` +
      `(detected: ${role})`,
  );

/** Why ray-tls leaves a resource with pod templates alone, if it does: the skip annotation, KubeRay's own TLS. */
function skipNote(resource: Resource): Result | undefined {
  if (resource.metadata.annotations?.[SKIP_ANNOTATION] === 'true')
    return about(resource, 'info', `skipped: annotation ${SKIP_ANNOTATION}: "true"`);
  if (!operatorTls(resource)) return undefined;
  const message =
    "skipped: tlsOptions.enabled: KubeRay issues this cluster's certificates and sets its TLS env itself (and " +
    'rejects pods that already set RAY_USE_TLS); ray-tls leaves it to the operator';
  return about(resource, 'info', message, { path: `${fieldPath(clusterSpecPath(resource)!)}.tlsOptions.enabled` });
}

const kindOfValue = (v: Json | undefined) => (v === null ? 'null' : Array.isArray(v) ? 'a list' : `a ${typeof v}`);

/** Why a pod template cannot be read as one (Kubernetes would reject it too), or undefined. */
function templateProblem(
  template: Json | undefined,
  ref: PodTemplateRef,
): { message: string; field: string } | undefined {
  const at = (rest: string) => [fieldPath(ref.path), rest].filter(Boolean).join('.');
  if (!isMap(template))
    return { message: `${at('')} must be a pod template (a mapping), not ${kindOfValue(template)}`, field: at('') };
  for (const key of ['metadata', 'spec'] as const) {
    const v = template[key];
    if (v !== undefined && v !== null && !isMap(v))
      return { message: `${at(key)} must be a mapping, not ${kindOfValue(v)}`, field: at(key) };
  }
  for (const key of ['containers', 'initContainers', 'volumes'] as const) {
    const v = getIn(template, ['spec', key]);
    if (v !== undefined && v !== null && (!Array.isArray(v) || !v.every(isMap))) {
      return {
        message: `${at(`spec.${key}`)} must be a list of mappings, not ${kindOfValue(v)}`,
        field: at(`spec.${key}`),
      };
    }
  }
  return undefined;
}
