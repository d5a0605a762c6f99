// Where pod templates live in each kind: one table. A plain workload has one template; a
// KubeRay kind has a RayCluster spec (a head group and worker groups, each with a template)
// and maybe a job submitter. Adding a kind is adding a row.

import type { Resource } from '../krm/resource.js';
import { getIn, isMap, type Json, type JsonMap } from '../yaml/json.js';
import { argvOf } from './rayStart.js';

export type Path = (string | number)[];

interface Kind {
  kind: string;
  apiVersions: RegExp;
  /** A plain workload's pod template ([] for a Pod, which is its own template). */
  template?: Path;
  /** KubeRay: the RayCluster spec (headGroupSpec, workerGroupSpecs, autoscalerOptions). */
  cluster?: Path;
  /** KubeRay: the job submitter's pod template. */
  submitter?: Path;
  /** KubeRay: the job may run on an existing cluster, so the cluster spec may be absent. */
  clusterOptional?: boolean;
  /** KubeRay: the operator names the cluster at run time (not the resource's own name). */
  generatedClusterName?: boolean;
  /** KubeRay: the metadata of the RayCluster the operator makes (its annotations), when not the resource's own. */
  clusterMetadata?: Path;
}

const APPS = /^apps\//;
const APPS_OR_EXTENSIONS = /^(apps|extensions)\//;
const BATCH = /^batch\//;
const CORE = /^v1$/;
const KUBERAY = /^ray\.io\/(v1|v1alpha1)$/;
/** AIBrix's fleet and replica set: a RayCluster spec under spec.template, clusters named at run time. */
const AIBRIX = /^orchestration\.aibrix\.ai\//;
const AIBRIX_CLUSTER = {
  apiVersions: AIBRIX,
  cluster: ['spec', 'template', 'spec'],
  clusterMetadata: ['spec', 'template', 'metadata'],
  generatedClusterName: true,
};

export const KINDS: readonly Kind[] = [
  { kind: 'Deployment', apiVersions: APPS_OR_EXTENSIONS, template: ['spec', 'template'] },
  { kind: 'StatefulSet', apiVersions: APPS, template: ['spec', 'template'] },
  { kind: 'DaemonSet', apiVersions: APPS_OR_EXTENSIONS, template: ['spec', 'template'] },
  { kind: 'ReplicaSet', apiVersions: APPS_OR_EXTENSIONS, template: ['spec', 'template'] },
  { kind: 'Job', apiVersions: BATCH, template: ['spec', 'template'] },
  { kind: 'CronJob', apiVersions: BATCH, template: ['spec', 'jobTemplate', 'spec', 'template'] },
  { kind: 'ReplicationController', apiVersions: CORE, template: ['spec', 'template'] },
  { kind: 'Pod', apiVersions: CORE, template: [] },
  { kind: 'PodTemplate', apiVersions: CORE, template: ['template'] },
  { kind: 'RayCluster', apiVersions: KUBERAY, cluster: ['spec'] },
  { kind: 'RayService', apiVersions: KUBERAY, cluster: ['spec', 'rayClusterConfig'], generatedClusterName: true },
  {
    kind: 'RayJob',
    apiVersions: KUBERAY,
    cluster: ['spec', 'rayClusterSpec'],
    submitter: ['spec', 'submitterPodTemplate'],
    clusterOptional: true,
    generatedClusterName: true,
  },
  {
    kind: 'RayCronJob',
    apiVersions: /^ray\.io\/v1$/,
    cluster: ['spec', 'jobTemplate', 'rayClusterSpec'],
    submitter: ['spec', 'jobTemplate', 'submitterPodTemplate'],
    clusterOptional: true,
    generatedClusterName: true,
  },
  { kind: 'RayClusterFleet', ...AIBRIX_CLUSTER },
  { kind: 'RayClusterReplicaSet', ...AIBRIX_CLUSTER },
];

/** Kinds whose items the function must parse. */
export const POD_KINDS: ReadonlySet<string> = new Set(KINDS.map((k) => k.kind));

export const kindOf = (r: Pick<Resource, 'kind' | 'apiVersion'>): Kind | undefined =>
  KINDS.find((k) => k.kind === r.kind && k.apiVersions.test(r.apiVersion));

export interface PodTemplateRef {
  /** Path from the resource to the pod template (a map with metadata and spec); [] for a Pod. */
  path: Path;
  /** What the template is, for messages: "spec.template", "workerGroupSpecs[1] (gpu)". */
  where: string;
  kuberay?: 'head' | 'worker' | 'submitter';
}

/** A KubeRay head or worker template: KubeRay starts Ray in its first container, from the group's rayStartParams. */
export const inKubeRayGroup = (ref: PodTemplateRef): boolean => ref.kuberay === 'head' || ref.kuberay === 'worker';

/** `spec.template` + `.spec.containers[0]` style paths for results. */
export function fieldPath(path: Path): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

/** A path below `spec` as messages name it (`rayClusterSpec.headGroupSpec`). */
const below = (path: Path, rest: Path) => fieldPath([...path.slice(1), ...rest]);

const present = (v: Json | undefined) => v !== undefined && v !== null;

/** Every pod template of a resource (present, whatever its type: the walk checks it is a map). */
export function podTemplates(r: Resource): PodTemplateRef[] {
  const k = kindOf(r);
  const value = r as unknown as Json;
  if (!k) return [];
  if (k.template) {
    if (k.template.length && !present(getIn(value, k.template))) return [];
    return [{ path: k.template, where: k.template.length ? fieldPath(k.template) : 'spec' }];
  }
  const refs: PodTemplateRef[] = [];
  if (k.cluster) {
    const spec = getIn(value, k.cluster);
    const head = [...k.cluster, 'headGroupSpec', 'template'];
    if (present(getIn(value, head))) refs.push({ path: head, where: 'headGroupSpec', kuberay: 'head' });
    const groups = getIn(spec, ['workerGroupSpecs']);
    (Array.isArray(groups) ? groups : []).forEach((g, i) => {
      if (!present(getIn(g, ['template']))) return;
      const name = getIn(g, ['groupName']);
      const where = `workerGroupSpecs[${i}]${typeof name === 'string' ? ` (${name})` : ''}`;
      refs.push({ path: [...k.cluster!, 'workerGroupSpecs', i, 'template'], where, kuberay: 'worker' });
    });
  }
  if (k.submitter && present(getIn(value, k.submitter))) {
    refs.push({ path: k.submitter, where: below(k.submitter, []), kuberay: 'submitter' });
  }
  return refs;
}

/** KubeRay groups without a pod template (a RayCluster needs a head; every worker group needs one). */
export function missingKubeRayTemplates(r: Resource): string[] {
  const k = kindOf(r);
  if (!k?.cluster) return [];
  const spec = getIn(r as unknown as Json, k.cluster);
  if (k.clusterOptional && !present(spec)) return [];
  const missing = present(getIn(spec, ['headGroupSpec', 'template'])) ? [] : [below(k.cluster, ['headGroupSpec'])];
  const groups = getIn(spec, ['workerGroupSpecs']);
  (Array.isArray(groups) ? groups : []).forEach((g, i) => {
    if (!present(getIn(g, ['template']))) missing.push(below(k.cluster!, ['workerGroupSpecs', i]));
  });
  return missing;
}

/** The KubeRay group map (rayStartParams, headService) a head or worker template belongs to. */
export const groupPath = (ref: PodTemplateRef): Path => ref.path.slice(0, -1);

/**
 * The head Service KubeRay creates at run time (not in the input), which workers and
 * clients dial and so the head's certificate must name: `<name>-head-svc`, or
 * headGroupSpec.headService's name. A cluster whose name KubeRay generates (RayJob,
 * RayService) has `unknown` set when the name cannot be known here.
 */
export function kubeRayHeadServices(r: Resource, ref: PodTemplateRef): { names: string[]; unknown: boolean } {
  if (ref.kuberay !== 'head') return { names: [], unknown: false };
  const custom = getIn(r as unknown as Json, [...groupPath(ref), 'headService', 'metadata', 'name']);
  const names = typeof custom === 'string' ? [custom] : [];
  if (!kindOf(r)?.generatedClusterName)
    return { names: names.length ? names : [`${r.metadata.name}-head-svc`], unknown: false };
  // RayService, and a RayJob with its own cluster, also get a head Service named after themselves.
  if (r.kind === 'RayService' || r.kind === 'RayJob')
    return { names: [`${r.metadata.name}-head-svc`, ...names], unknown: !names.length };
  return { names, unknown: !names.length };
}

/** The path of a KubeRay resource's RayCluster spec, when it has one. */
export function clusterSpecPath(r: Resource): Path | undefined {
  const path = kindOf(r)?.cluster;
  return path && isMap(getIn(r as unknown as Json, path)) ? path : undefined;
}

/** KubeRay 1.7 does TLS itself for this cluster (spec.tlsOptions.enabled, feature gate RayClusterMTLS). */
export function operatorTls(r: Resource): boolean {
  const path = clusterSpecPath(r);
  return !!path && getIn(r as unknown as Json, [...path, 'tlsOptions', 'enabled']) === true;
}

/**
 * Where KubeRay takes the in-tree autoscaler's env and mounts from, when it adds that
 * container to the head pod at run time (enableInTreeAutoscaling: true); else undefined.
 */
export function autoscalerOptionsPath(r: Resource, ref: PodTemplateRef): Path | undefined {
  const path = clusterSpecPath(r);
  if (ref.kuberay !== 'head' || !path) return undefined;
  return getIn(r as unknown as Json, [...path, 'enableInTreeAutoscaling']) === true
    ? [...path, 'autoscalerOptions']
    : undefined;
}

/**
 * KubeRay does Ray token authentication for this resource's pods: under auth: token every
 * KubeRay cluster spec gets authOptions (tls/kubeRayAuth.ts), or has its own.
 */
export const operatorAuth = (r: Resource): boolean => clusterSpecPath(r) !== undefined;

/** The pod label KubeRay sets to the cluster's name (read through the downward API). */
export const CLUSTER_LABEL = 'ray.io/cluster';
/** KubeRay's labels that a pod template cannot override. */
const KUBERAY_OWN_LABELS = [CLUSTER_LABEL, 'ray.io/node-type', 'ray.io/group'];

/**
 * A KubeRay group pod's labels as the operator sets them at run time (common/pod.go labelPod):
 * its own, then the template's except the three it keeps. A cluster named at run time has no
 * ray.io/cluster (nor identifier) known here.
 */
export function kubeRayLabels(r: Resource, ref: PodTemplateRef, template: Record<string, string>) {
  if (ref.kuberay !== 'head' && ref.kuberay !== 'worker') return template;
  const groupName = getIn(r as unknown as Json, [...groupPath(ref), 'groupName']);
  const group = ref.kuberay === 'head' ? 'headgroup' : typeof groupName === 'string' ? groupName : '';
  const name = kindOf(r)?.generatedClusterName ? undefined : r.metadata.name;
  const own: Record<string, string> = {
    'ray.io/is-ray-node': 'yes',
    ...(name !== undefined && { [CLUSTER_LABEL]: name, 'ray.io/identifier': `${name}-${ref.kuberay}` }),
    'ray.io/node-type': ref.kuberay,
    'ray.io/group': group,
    'app.kubernetes.io/name': 'kuberay',
    'app.kubernetes.io/created-by': 'kuberay-operator',
  };
  const kept = Object.entries(template).filter(([k]) => !KUBERAY_OWN_LABELS.includes(k));
  return { ...own, ...Object.fromEntries(kept) };
}

/** The annotations of the RayCluster KubeRay makes for this resource (ray.io/overwrite-container-cmd lives there). */
export function clusterAnnotations(r: Resource): Record<string, string> {
  const k = kindOf(r);
  const value = getIn(r as unknown as Json, [...(k?.clusterMetadata ?? ['metadata']), 'annotations']);
  return isMap(value) ? Object.fromEntries(Object.entries(value).map(([a, b]) => [a, String(b)])) : {};
}

export const OVERWRITE_CMD_ANNOTATION = 'ray.io/overwrite-container-cmd';

/**
 * How KubeRay starts Ray in a group's first container (common/pod.go BuildPod): from
 * rayStartParams, unless the pod template's or the cluster's annotation
 * ray.io/overwrite-container-cmd is "true" (the container's command runs, with the generated
 * command in $KUBERAY_GEN_RAY_START_CMD), or the command's text contains "ray start" (it runs as
 * it is).
 */
export type KubeRayStart = 'generated' | 'own' | 'overwrite';

export function kubeRayStartForm(r: Resource, annotations: Record<string, string>, ray: JsonMap): KubeRayStart {
  const on = (v: string | undefined) => v?.toLowerCase() === 'true';
  if (on(annotations[OVERWRITE_CMD_ANNOTATION]) || on(clusterAnnotations(r)[OVERWRITE_CMD_ANNOTATION]))
    return 'overwrite';
  // KubeRay joins command and args with a space on each side of every word.
  const text = argvOf(ray.command, ray.args)
    .map((w) => ` ${w} `)
    .join('');
  return text.includes('ray start') ? 'own' : 'generated';
}
