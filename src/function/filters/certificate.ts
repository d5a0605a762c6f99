// The pod's certificate: a node gets what its mode declares (the volume, an init container, its
// containers' edits such as pod-dns's start rewrite); a client mounts its client Secret.
import { secretSource, VOLUME } from '../../tls/pod.js';
import type { PodFilter } from './edits.js';

export const certificate: PodFilter = (edits, pod, { mode, pods: settings }) => {
  if (pod.role === 'client') {
    const volume = { name: VOLUME, secret: secretSource(pod.clientSecret, pod.secretMode) };
    return { ...edits, volumes: [...edits.volumes, volume] };
  }
  const init = mode.initContainer?.(settings, pod);
  return {
    ...edits,
    volumes: [...edits.volumes, ...mode.nodeVolumes(settings, pod)],
    containerEnv: [
      ...edits.containerEnv,
      (edit, c, index, field) => mode.containerEnv?.(edit, c, index, field, settings) ?? [],
    ],
    initContainers: [...edits.initContainers, ...(init ? [init] : [])],
  };
};
