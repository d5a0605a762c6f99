// Ray token authentication (design.md §3.7): every Ray process gets RAY_AUTH_MODE=token and
// the token from a Secret made outside the manifests (ray-tls token). Without it, every node
// serves unauthenticated HTTP that runs code: the dashboard and Jobs API, the dashboard
// agent, the runtime-env agent.
import type { Json } from '../yaml/json.js';

export function authEnv(secret: { name: string; key: string }): Json[] {
  return [
    { name: 'RAY_AUTH_MODE', value: 'token' },
    { name: 'RAY_AUTH_TOKEN', valueFrom: { secretKeyRef: { name: secret.name, key: secret.key } } },
  ];
}

export const NO_AUTH_WARNING =
  'Ray serves unauthenticated HTTP on every node: the dashboard and Jobs API (8265), the dashboard agent (52365, ' +
  'accepts job submissions) and the runtime-env agent; RAY_USE_TLS covers none of them, and whoever reaches them ' +
  'runs code. Turn on token authentication: auth: token in the config, and create the token Secret (ray-tls token)';
