// The one dangerous order of a planned CA rotation (docs/design.md §4): signing with a CA that the
// running pods do not trust yet. Pods rendered before say what they trust: the CA Secret they
// sign with (per-pod), the Secrets of their trust bundle, and the CA Issuers ray-tls emitted.
import type { Resource } from '../krm/resource.js';
import { about, type Result } from '../krm/results.js';
import type { RayPod } from '../ray/pods.js';
import { getIn, isMap, mapsOf } from '../yaml/json.js';
import { MANAGED_BY } from './certificates.js';
import { CA_VOLUME, MARKER_ANNOTATION } from './pod.js';
import { TRUST_VOLUME } from './trust.js';

const managedBy = MANAGED_BY['app.kubernetes.io/managed-by'];

/** An error for each rendered pod that would not trust the new signing CA. */
export function rotationOrder(pods: RayPod[], resources: Resource[], signer: string): Result[] {
  const issued = new Map<string | undefined, string[]>();
  for (const r of resources) {
    const secret = getIn(r.spec as never, ['ca', 'secretName']);
    if (
      r.kind !== 'Issuer' ||
      r.metadata.labels?.['app.kubernetes.io/managed-by'] !== managedBy ||
      typeof secret !== 'string'
    )
      continue;
    issued.set(r.metadata.namespace, [...(issued.get(r.metadata.namespace) ?? []), secret]);
  }
  const out: Result[] = [];
  for (const p of pods) {
    if (p.pod.annotations[MARKER_ANNOTATION] === undefined) continue;
    const trusted = new Set(issued.get(p.resource.metadata.namespace) ?? []);
    for (const v of p.pod.volumes) {
      const secret = getIn(v, ['secret', 'secretName']);
      if (v.name === CA_VOLUME && typeof secret === 'string') trusted.add(secret);
      if (v.name === TRUST_VOLUME)
        for (const s of mapsOf(getIn(v, ['projected', 'sources'])))
          if (isMap(s.secret) && typeof s.secret.name === 'string') trusted.add(s.secret.name);
    }
    if (!trusted.size || trusted.has(signer)) continue;
    const message =
      `${p.ref.where}: this pod was rendered trusting only ${[...trusted].join(', ')}; signing with ` +
      `${signer} now splits the cluster (a restarted pod and the pods started before refuse each other). Do step 1 ` +
      `of the CA rotation first: keep ${[...trusted][0]} signing, add ${signer} to ca.trust and roll out every ` +
      `pod; then switch (README: Rotation). After a CA key compromise, set ca.noOverlap: true and restart every ` +
      `Ray pod at once`;
    out.push(about(p.resource, 'error', message));
  }
  return out;
}
