// A certificate mode: how each Ray node gets a certificate for the address it advertises.
// A mode declares its node volume's kind and its config rules, and owns its certificates, its
// pod changes, its validator rule and its help text; the config, the pod-edit filters, the trust
// bundle and the validator only ask the declaration (modes/index.ts registers the modes).
import type { YAMLMap } from 'yaml';
import type { Resource } from '../../krm/resource.js';
import type { Result } from '../../krm/results.js';
import type { RayPod } from '../../ray/pods.js';
import type { Json, JsonMap } from '../../yaml/json.js';
import type { Target } from '../../yaml/upsert.js';
import type { PodFacts } from '../facts.js';
import type { VolumeKind } from '../pod.js';
import type { PodSettings } from '../settings.js';

/** The Ray nodes of one namespace, and the DNS names of the Services that select them. */
export interface NamespaceNodes {
  namespace: string | undefined;
  nodes: PodFacts[];
  serviceDnsNames: string[];
  /** KubeRay heads whose Service the operator names at run time (RayJob, RayService clusters). */
  generatedHeads: PodFacts[];
}

/** One pod template being edited through the splice editor. */
export interface NodeEdit {
  target: Target;
  /** The pod, with what the survey decided about it (its Services among them). */
  pod: PodFacts;
  /** The pod template map, and its spec map. */
  template: YAMLMap;
  spec: YAMLMap;
  /** The YAML map of the KubeRay group (head or worker) the template belongs to. */
  group?: YAMLMap;
  /** A field path below the pod template, for results. */
  at(rest: string): string;
  /**
   * Adds one of ray-tls's init containers, first in order, on `initImage` or the Ray
   * container's image (`what` names it in the error when there is neither).
   */
  addInitContainer(what: string, make: (image: string, ray: JsonMap) => Json, initImage?: string): void;
}

/** The part of the config a mode's own rules read (config/config.ts Config has it). */
export interface ModeConfig {
  certManager: boolean;
  ca: { trust: string[] };
}

export interface CertificateMode {
  readonly name: string;
  /** A few words for the config error that lists the modes. */
  readonly summary: string;
  /** Lines for --help (after the name). */
  readonly help: string;
  /** The kind of the volume `nodeVolumes` gives at the mount path (how a trust bundle gets in). */
  readonly nodeVolume: VolumeKind;
  /** The mode's own config rules (e.g. that it needs cert-manager): problems as field and message. */
  configRules?(config: ModeConfig): { field: string; message: string }[];
  /** The cert-manager leaves a namespace's nodes share (besides the CA chain), and what to say. */
  namespaceCertificates(group: NamespaceNodes, settings: PodSettings): { certificates: Json[]; results: Result[] };
  /** The Secret a node pod mounts (certManager: false asks the user to create it). */
  nodeSecret(settings: PodSettings): string;
  /** The volumes of a node pod (VOLUME, of the kind `nodeVolume` says, and any the mode's init container needs). */
  nodeVolumes(settings: PodSettings, pod: PodFacts): Json[];
  /** The names of the containers the mode adds (they get no Ray env; the validator asks them nothing). */
  readonly ownContainers?: readonly string[];
  /** The mode's init container in a node pod, first in order (`what` names it in errors). */
  initContainer?(settings: PodSettings, pod: PodFacts): { what: string; make(image: string, ray: JsonMap): Json };
  /** Env a node's container needs beyond the TLS env (and the edits that go with it, such as the start rewrite). */
  containerEnv?(edit: NodeEdit, container: YAMLMap, index: number, field: string, settings: PodSettings): Json[];
  /** For the result that reports a node. */
  describeNode(settings: PodSettings): string;
  /** What the mode cannot fix in a node pod but its user should know (warnings). */
  warnNode?(pod: PodFacts): Result[];
  /** For the result about lifetimes, when the mode's node certificates live apart from cert-manager's. */
  lifetimeNote?(settings: PodSettings): string;
  /** Validator: whether a node pod was rendered this way. */
  recognises(pod: RayPod): boolean;
  /** Validator: the problems of a node pod rendered this way. */
  validateNode(pod: RayPod, resource: Resource): Result[];
}
