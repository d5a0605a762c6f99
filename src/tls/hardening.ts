// The securityContext of the init containers ray-tls adds: what Pod Security "restricted"
// asks, never privileged, and only the user and group ids of the Ray container (so that
// the Ray process can read the files they write). Nothing else is copied from it.
import { isMap, type Json } from '../yaml/json.js';

export function restrictedContext(ray: Json | undefined): Json {
  const sc = isMap(ray) ? ray : {};
  const id = (k: string) => (typeof sc[k] === 'number' ? { [k]: sc[k] } : {});
  return {
    ...id('runAsUser'),
    ...id('runAsGroup'),
    ...(sc.runAsNonRoot === true && { runAsNonRoot: true }),
    allowPrivilegeEscalation: false,
    privileged: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}
