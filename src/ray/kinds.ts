// Where pod templates live in each kind: one table. A plain workload has one template; a
// KubeRay kind has a RayCluster spec (a head group and worker groups, each with a template)
// and maybe a job submitter. Adding a kind is adding a row.

import type { Resource } from '../krm/resource.js';
import { getIn, isMap, type Json } from '../yaml/json.js';

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
}

const APPS = /^apps\//;
const APPS_OR_EXTENSIONS = /^(apps|extensions)\//;
const BATCH = /^batch\//;
const CORE = /^v1$/;
const KUBERAY = /^ray\.io\/(v1|v1alpha1)$/;

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
  if (r.kind === 'RayService') return { names: [`${r.metadata.name}-head-svc`, ...names], unknown: !names.length };
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

/** The pod label KubeRay sets to the cluster's name (read through the downward API). */
export const CLUSTER_LABEL = 'ray.io/cluster';

/** KubeRay 1.5+ does Ray token authentication itself for this cluster (spec.authOptions). */
export function operatorAuth(r: Resource): boolean {
  const path = clusterSpecPath(r);
  const options = path && getIn(r as unknown as Json, [...path, 'authOptions']);
  return options !== undefined && options !== null;
}
