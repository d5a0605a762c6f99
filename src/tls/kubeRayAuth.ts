// Ray token authentication on a KubeRay cluster goes through the operator: with the cluster
// spec's `authOptions: {mode: token, secretName}` KubeRay sets RAY_AUTH_MODE and RAY_AUTH_TOKEN
// on every container it starts (wait-gcs-ready, the autoscaler, the RayJob submitter) and
// sends the token on its own dashboard calls (Jobs API, Serve API). Env that ray-tls set alone
// would lock the operator out (401), so KubeRay clusters get authOptions and no token env of ours.
import type { Resource } from '../krm/resource.js';
import { about, type Result } from '../krm/results.js';
import { clusterSpecPath, fieldPath, type Path } from '../ray/kinds.js';
import { getIn, type Json } from '../yaml/json.js';

/** The Secret key KubeRay reads the token from (authOptions.secretName); not configurable there. */
export const KUBERAY_TOKEN_KEY = 'auth_token';
/** KubeRay's validation refuses authOptions.mode token below this Ray version. */
const MIN_RAY_VERSION = [2, 52, 0];

export interface KubeRayAuth {
  /** Where the cluster spec is, and the authOptions to add there (absent when the spec has its own). */
  add?: { path: Path; value: Json };
  results: Result[];
}

/** What `auth: token` means for a KubeRay resource; undefined for a resource without a cluster spec. */
export function kubeRayAuth(r: Resource, secret: { name: string; key: string }): KubeRayAuth | undefined {
  const path = clusterSpecPath(r);
  if (!path) return undefined;
  const spec = getIn(r as unknown as Json, path);
  const at = (key: string) => ({ path: `${fieldPath(path)}.${key}` });
  const existing = getIn(spec, ['authOptions']);
  if (existing !== undefined && existing !== null) {
    const ours = getIn(existing, ['secretName']) === secret.name && getIn(existing, ['mode']) === 'token';
    if (!ours) {
      const message =
        "authOptions is set: KubeRay does this cluster's token authentication as it says; ray-tls adds TLS only";
      return { results: [about(r, 'info', message, at('authOptions'))] };
    }
  }
  const results: Result[] = [];
  if (secret.key !== KUBERAY_TOKEN_KEY) {
    const message =
      `authSecret.key is ${JSON.stringify(secret.key)}, but KubeRay reads the token of authOptions.secretName ` +
      `from key ${KUBERAY_TOKEN_KEY} only; use key ${KUBERAY_TOKEN_KEY} (the default) in the config and the Secret`;
    results.push(about(r, 'error', message, at('authOptions')));
  }
  const version = getIn(spec, ['rayVersion']);
  if (!atLeastMinimum(version)) {
    const was = version === undefined || version === null ? 'is not set' : `is ${JSON.stringify(version)}`;
    const message =
      `rayVersion ${was}: KubeRay accepts authOptions.mode token only with rayVersion ${MIN_RAY_VERSION.join('.')} ` +
      "or later; set rayVersion to the image's Ray version (and use Ray 2.52.0+), or auth: none";
    results.push(about(r, 'error', message, at('rayVersion')));
  }
  if (existing !== undefined && existing !== null) return { results };
  return { add: { path, value: { mode: 'token', secretName: secret.name } }, results };
}

function atLeastMinimum(version: Json | undefined): boolean {
  const text = typeof version === 'string' || typeof version === 'number' ? String(version).trim() : '';
  const m = /^v?(\d+)\.(\d+)(?:\.(\d+))?/.exec(text);
  if (!m) return false;
  const parts = [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
  for (let i = 0; i < 3; i++) if (parts[i] !== MIN_RAY_VERSION[i]) return parts[i] > MIN_RAY_VERSION[i];
  return true;
}
