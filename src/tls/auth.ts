// Ray token authentication (docs/design.md §5.2): every Ray process gets RAY_AUTH_MODE=token and
// the token from a Secret made outside the manifests (ray-tls token). Without it, every node
// serves unauthenticated HTTP that runs code: the dashboard and Jobs API, the dashboard agent,
// the runtime-env agent.
//
// The token reaches Ray as a FILE (RAY_AUTH_TOKEN_PATH, read by Ray 2.58), from a Secret volume
// that selects only the token's key, read-only, 0400/0440 like the CA files (pod.ts secretMode):
// never an env var, which `kubectl describe`, /proc/<pid>/environ, crash reports and every child
// process would carry. Only the containers that talk to Ray mount it. This module is the one
// place that knows how a pod gets the token.
import type { Resource } from '../krm/resource.js';
import { about, type Result } from '../krm/results.js';
import { fieldPath, type Path } from '../ray/kinds.js';
import type { Json } from '../yaml/json.js';
import { secretSource } from './pod.js';

export interface TokenSecret {
  name: string;
  key: string;
}

export const TOKEN_VOLUME = 'ray-tls-auth-token';
export const TOKEN_DIR = '/etc/ray/auth';
export const TOKEN_PATH_VAR = 'RAY_AUTH_TOKEN_PATH';

/** The env of a Ray process under token authentication. */
export function authEnv(secret: TokenSecret): Json[] {
  return [
    { name: 'RAY_AUTH_MODE', value: 'token' },
    { name: TOKEN_PATH_VAR, value: `${TOKEN_DIR}/${secret.key}` },
  ];
}

/** The pod volume with the token's key alone; `mode` is the Secret files' mode (pod.ts secretMode). */
export const tokenVolume = (secret: TokenSecret, mode: number | undefined): Json => ({
  name: TOKEN_VOLUME,
  secret: secretSource(secret.name, mode, [secret.key]),
});

export const tokenMount: Json = { name: TOKEN_VOLUME, mountPath: TOKEN_DIR, readOnly: true };

export const NO_AUTH_WARNING =
  'Ray serves unauthenticated HTTP on every node: the dashboard and Jobs API (8265), the dashboard agent (52365, ' +
  'accepts job submissions) and the runtime-env agent; RAY_USE_TLS covers none of them, and whoever reaches them ' +
  'runs code. Turn on token authentication: auth: token in the config, and create the token Secret (ray-tls token)';

/** The paths of env entries that set RAY_AUTH_TOKEN to a literal value, anywhere in `v`. */
function literalTokens(v: Json | undefined, path: Path, out: Path[]): Path[] {
  if (Array.isArray(v)) {
    for (const [i, x] of v.entries()) literalTokens(x, [...path, i], out);
  } else if (v && typeof v === 'object') {
    if (v.name === 'RAY_AUTH_TOKEN' && typeof v.value === 'string' && v.value !== '') out.push([...path, 'value']);
    for (const [k, x] of Object.entries(v)) literalTokens(x, [...path, k], out);
  }
  return out;
}

/** A warning for each literal RAY_AUTH_TOKEN in the manifests (the value itself is never repeated). */
export function literalTokenWarnings(r: Resource): Result[] {
  return literalTokens(r as unknown as Json, [], []).map((path) =>
    about(
      r,
      'warning',
      'RAY_AUTH_TOKEN is set to a literal value in the manifests, where anyone who reads them (or their git ' +
        'history) has the token: take it from a Secret (auth: token mounts one as a file; ray-tls token makes ' +
        'it), and replace the token, which is no longer secret',
      { path: fieldPath(path) },
    ),
  );
}
