// Ray token authentication: every Ray process reads the token from a file (tls/auth.ts), unless
// KubeRay's authOptions does it. A pod rendered by an earlier release had the token in the env.
import { authEnv, tokenMount, tokenVolume } from '../../tls/auth.js';
import type { PodFilter } from './edits.js';

const OLD_ENV = 'RAY_AUTH_TOKEN';

export const auth: PodFilter = (edits, pod, { pods: settings }) => {
  if (!pod.auth || !settings.authToken) return edits;
  const stale = { ...edits.stale, env: [...edits.stale.env, OLD_ENV] };
  return {
    ...edits,
    env: [...edits.env, ...authEnv(settings.authToken)],
    mounts: [...edits.mounts, tokenMount],
    volumes: [...edits.volumes, tokenVolume(settings.authToken, pod.secretMode)],
    stale,
  };
};
