// The trust bundle (ca.trust, the overlap of a planned CA rotation). How it gets in follows the
// kind of the pod's certificate volume, as the mode declares it (tls/trust.ts TRUST_BY_VOLUME).
import {
  SECRET_VOLUME,
  TRUST_BY_VOLUME,
  TRUST_CONTAINER,
  TRUST_VOLUME,
  trustContainer,
  trustVolume,
  withTrust,
} from '../../tls/trust.js';
import type { PodFilter } from './edits.js';

export const trust: PodFilter = (edits, pod, { mode, pods: settings }) => {
  const { trust: cas, mountPath } = settings;
  // A rotation is over: what an earlier render added for the bundle goes.
  if (!cas.length)
    return { ...edits, stale: { volumes: [TRUST_VOLUME, SECRET_VOLUME], initContainers: [TRUST_CONTAINER] } };
  const kind = pod.role === 'client' ? 'secret' : mode.nodeVolume;
  switch (TRUST_BY_VOLUME[kind]) {
    case 'mode':
      return { ...edits, volumes: [...edits.volumes, trustVolume(cas)] };
    case 'copy': {
      const copy = { what: 'trust', make: (image: string, ray: object) => trustContainer(image, mountPath, ray) };
      return { ...edits, volumes: withTrust(edits.volumes, cas), initContainers: [...edits.initContainers, copy] };
    }
    default:
      // The config refuses ca.trust for such a mode (tls/modes/index.ts modeProblems).
      throw new Error(`mode ${mode.name}: no trust bundle fits a ${kind} certificate volume`);
  }
};
