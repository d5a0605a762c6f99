// What a pod trusts (tls/trust.ts): its namespace CA's own certificate, and the CAs of ca.trust
// (the overlap of a planned CA rotation). How that gets in follows the kind of the pod's
// certificate volume, as the mode declares it (TRUST_BY_VOLUME): a mode that fills its own volume
// (per-pod) cuts the CA certificate itself and only needs the extra CAs; a pod with a Secret
// certificate, whose ca.crt is a root under ca.issuerRef, gets the trust init container.
import {
  needsTrustBundle,
  SECRET_VOLUME,
  TRUST_BY_VOLUME,
  TRUST_CONTAINER,
  TRUST_VOLUME,
  trustContainer,
  trustedSecrets,
  trustVolume,
  withTrust,
} from '../../tls/trust.js';
import type { PodFilter } from './edits.js';

export const trust: PodFilter = (edits, pod, { mode, pods: settings }) => {
  const kind = pod.role === 'client' ? 'secret' : mode.nodeVolume;
  const by = TRUST_BY_VOLUME[kind];
  const needed = by === 'copy' ? needsTrustBundle(settings) : settings.trust.length > 0;
  // A rotation is over (or the CA is a root again): what an earlier render added for the bundle goes.
  if (!needed) {
    const { stale } = edits;
    const volumes = [...stale.volumes, TRUST_VOLUME, SECRET_VOLUME];
    return { ...edits, stale: { ...stale, volumes, initContainers: [...stale.initContainers, TRUST_CONTAINER] } };
  }
  switch (by) {
    case 'mode':
      return { ...edits, volumes: [...edits.volumes, trustVolume(settings.trust)] };
    case 'copy': {
      const { mountPath } = settings;
      const copy = { what: 'trust', make: (image: string, ray: object) => trustContainer(image, mountPath, ray) };
      const volumes = withTrust(edits.volumes, trustedSecrets(settings));
      return { ...edits, volumes, initContainers: [...edits.initContainers, copy] };
    }
    default:
      // The config refuses ca.trust for such a mode (tls/modes/index.ts modeProblems).
      throw new Error(`mode ${mode.name}: no trust bundle fits a ${kind} certificate volume`);
  }
};
