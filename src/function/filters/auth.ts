// Ray token authentication: every Ray process reads the token, unless KubeRay's authOptions does it.
import { authEnv } from '../../tls/auth.js';
import type { PodFilter } from './edits.js';

export const auth: PodFilter = (edits, pod, { pods: settings }) =>
  pod.auth && settings.authToken ? { ...edits, env: [...edits.env, ...authEnv(settings.authToken)] } : edits;
