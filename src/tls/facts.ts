// What ray-tls decides about one Ray pod, decided once in the transformer's survey and then
// only read: by the pod-edit filters (function/filters), the modes and the results.
import { type RayContainers, rayContainers } from '../ray/containers.js';
import {
  autoscalerOptionsPath,
  inKubeRayGroup,
  type KubeRayStart,
  kubeRayHeadServices,
  kubeRayStartForm,
  operatorAuth,
  type Path,
} from '../ray/kinds.js';
import { type RayPod, rayContainerIndex } from '../ray/pods.js';
import { getIn } from '../yaml/json.js';
import { clientCertName } from './certificates.js';
import { OWN_CONTAINERS, secretMode } from './pod.js';
import type { PodSettings } from './settings.js';

export interface PodFacts<S = unknown> extends RayPod<S> {
  /** A KubeRay head or worker: Ray runs in the first container, started from the group's rayStartParams. */
  kubeRayGroup: boolean;
  /** A KubeRay head or worker: how the operator starts Ray in its first container. */
  kubeRayStart?: KubeRayStart;
  /** The index of the container that runs Ray (its image runs ray-tls's init containers). */
  rayContainer: number;
  /** The Services the pod's certificate names: those that select it, then KubeRay's head Service. */
  services: string[];
  /** A KubeRay head whose Service the operator names at run time (RayJob, RayService clusters). */
  generatedHead: boolean;
  /** Ray token authentication for this pod (off where KubeRay's authOptions does it). */
  auth: boolean;
  /** The mode of the Secret files the pod mounts (pod.ts secretMode). */
  secretMode: number | undefined;
  /** The Secret of a client's certificate, named after its workload. */
  clientSecret: string;
  /** The containers that talk to Ray: only they get the TLS files, the trust and the token. */
  rayContainers: RayContainers;
  /** Where KubeRay takes the in-tree autoscaler's env and mounts from, for a head that has it. */
  autoscaler?: Path;
}

/** The facts of a pod, given the names of the Services in its namespace that select it. */
export function podFacts<S>(p: RayPod<S>, selecting: string[], settings: PodSettings): PodFacts<S> {
  const head = kubeRayHeadServices(p.resource, p.ref);
  const rayContainer = rayContainerIndex(p.ref, p.pod);
  const runAsUser = getIn(p.pod.containers[rayContainer]?.securityContext, ['runAsUser']) ?? p.pod.runAsUser;
  const autoscaler = autoscalerOptionsPath(p.resource, p.ref);
  return {
    ...p,
    kubeRayGroup: inKubeRayGroup(p.ref),
    ...(inKubeRayGroup(p.ref) && {
      kubeRayStart: kubeRayStartForm(p.resource, p.pod.annotations, p.pod.containers[0] ?? {}),
    }),
    rayContainer,
    services: [...selecting, ...head.names],
    generatedHead: head.unknown,
    auth: !!settings.authToken && !operatorAuth(p.resource),
    secretMode: secretMode(p.pod.fsGroup !== undefined, typeof runAsUser === 'number' ? runAsUser : undefined),
    // A RayJob's submitter is a workload of its own: its certificate gets a suffix.
    rayContainers: rayContainers(p.pod, OWN_CONTAINERS, p.role === 'node' ? rayContainer : undefined),
    clientSecret: clientCertName(p.resource.metadata.name + (p.ref.kuberay === 'submitter' ? '-submitter' : '')),
    ...(autoscaler && { autoscaler }),
  };
}
