// A certificate mode: how each Ray node gets a certificate for the address it advertises.
// A mode owns its certificates, its pod changes, its validator rule and its help text;
// the transformer and the validator only ask the mode (modes/index.ts lists them).
import type { YAMLMap } from 'yaml';
import type { Resource } from '../../krm/resource.js';
import type { Result } from '../../krm/results.js';
import type { RayPod } from '../../ray/pods.js';
import type { Json, JsonMap } from '../../yaml/json.js';
import type { Target } from '../../yaml/upsert.js';
import type { PodSettings } from '../settings.js';

/** The Ray nodes of one namespace, and the DNS names of the Services that select them. */
export interface NamespaceNodes {
  namespace: string | undefined;
  nodes: RayPod[];
  serviceDnsNames: string[];
  /** KubeRay heads whose Service the operator names at run time (RayJob, RayService clusters). */
  generatedHeads: RayPod[];
}

/** One node pod template being edited through the splice editor. */
export interface NodeEdit {
  target: Target;
  pod: RayPod;
  /** The pod template's spec map. */
  spec: YAMLMap;
  /** The YAML map of the KubeRay group (head or worker) the template belongs to. */
  group?: YAMLMap;
  /** A field path below the pod template, for results. */
  at(rest: string): string;
  /** The Services whose names this node's certificate must carry. */
  services: string[];
  /**
   * Adds one of ray-tls's init containers, first in order, on `initImage` or the Ray
   * container's image (`what` names it in the error when there is neither).
   */
  addInitContainer(what: string, make: (image: string, ray: JsonMap) => Json, initImage?: string): void;
}

export interface CertificateMode {
  readonly name: string;
  /** A few words for the config error that lists the modes. */
  readonly summary: string;
  /** Lines for --help (after the name). */
  readonly help: string;
  /** The cert-manager leaves a namespace's nodes share (besides the CA chain), and what to say. */
  namespaceCertificates(group: NamespaceNodes, settings: PodSettings): { certificates: Json[]; results: Result[] };
  /** The Secret a node pod mounts (certManager: false asks the user to create it). */
  nodeSecret(settings: PodSettings): string;
  /** The volumes of a node pod; `mode` is the Secret files' mode (tls/pod.ts secretMode). */
  nodeVolumes(settings: PodSettings, mode: number | undefined): Json[];
  /** Env a node's container needs beyond the TLS env (and the edits that go with it). */
  containerEnv?(edit: NodeEdit, container: YAMLMap, index: number, field: string, settings: PodSettings): Json[];
  /** The mode's own edits of a node pod, after env, mounts and volumes. */
  editPod?(edit: NodeEdit, settings: PodSettings): void;
  /** Its node pods build their own trust bundle (per-pod's init container); else trust.ts does. */
  readonly bundlesTrust?: boolean;
  /** For the result that reports a node. */
  describeNode(settings: PodSettings): string;
  /** What the mode cannot fix in a node pod but its user should know (warnings). */
  warnNode?(pod: RayPod): Result[];
  /** Validator: whether a node pod was rendered this way. */
  recognises(pod: RayPod): boolean;
  /** Validator: the problems of a node pod rendered this way. */
  validateNode(pod: RayPod, resource: Resource): Result[];
}
