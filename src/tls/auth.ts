// Ray token authentication (design.md §3.7): every Ray process gets RAY_AUTH_MODE=token and the
// token from a Secret made outside the manifests (ray-tls token). Without it, every node serves
// unauthenticated HTTP that runs code: the dashboard and Jobs API, the dashboard agent, the
// runtime-env agent.
//
// The token reaches Ray as a FILE (RAY_AUTH_TOKEN_PATH, read by Ray 2.58), from a Secret volume
// that selects only the token's key, read-only, 0400/0440 like the CA files (pod.ts secretMode):
// never an env var, which `kubectl describe`, /proc/<pid>/environ, crash reports and every child
// process would carry. Only the containers that talk to Ray mount it. This module is the one
// place that knows how a pod gets the token.
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
