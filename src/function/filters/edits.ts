// The pod-edit filters' contract, in the spirit of kustomize's filters. A filter is one concern's
// edits of a Ray pod template: it takes the edits planned so far, the pod's facts and the plan,
// and returns the edits with its own added. inject.ts runs them in order (filters/index.ts) and
// writes the result once per list: the splice editor does not see its own pending edits, so two
// upserts into one list would each add it.
import type { YAMLMap } from 'yaml';
import type { Item } from '../../krm/resourceList.js';
import type { PodFacts } from '../../tls/facts.js';
import type { NodeEdit } from '../../tls/modes/mode.js';
import type { Json, JsonMap } from '../../yaml/json.js';
import type { Plan } from '../plan.js';

/** One of ray-tls's init containers, on initImage or the Ray image; `what` names it in errors. */
export interface InitContainer {
  what: string;
  make(image: string, ray: JsonMap): Json;
}

export interface PodEdits {
  /** Env of every Ray process: each container that talks to Ray (facts rayContainers), KubeRay's autoscaler. */
  env: Json[];
  /** The read-only mounts of the same. */
  mounts: Json[];
  /** More env for one of the pod's `containers`, and the edits that go with it (a start rewrite). */
  containerEnv: ((edit: NodeEdit, container: YAMLMap, index: number, field: string) => Json[])[];
  volumes: Json[];
  /**
   * Names an earlier render added and this one does not want: removed from pods ray-tls rendered
   * (env: from every container).
   */
  stale: { volumes: string[]; initContainers: string[]; env: string[] };
  initContainers: InitContainer[];
  /** Edits of their own, after the lists, in filter order. */
  after: ((edit: NodeEdit) => void)[];
}

export const NO_EDITS: PodEdits = {
  env: [],
  mounts: [],
  containerEnv: [],
  volumes: [],
  stale: { volumes: [], initContainers: [], env: [] },
  initContainers: [],
  after: [],
};

export type PodFilter = (edits: PodEdits, pod: PodFacts<Item>, plan: Plan) => PodEdits;
