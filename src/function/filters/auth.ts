// Ray token authentication: every Ray process reads the token from a file (tls/auth.ts), unless
// KubeRay's authOptions does it. RAY_AUTH_TOKEN, which Ray reads before the file, must go: an
// earlier release's (on a pod ray-tls rendered) is stale; the user's own is a conflict.
import { isMap, isSeq, type YAMLMap, type YAMLSeq } from 'yaml';
import { authEnv, TOKEN_PATH_VAR, tokenMount, tokenVolume } from '../../tls/auth.js';
import type { NodeEdit } from '../../tls/modes/mode.js';
import { toJson } from '../../yaml/read.js';
import type { PodFilter } from './edits.js';

const ENV_TOKEN = 'RAY_AUTH_TOKEN';

/** A conflict for each RAY_AUTH_TOKEN in a container that talks to Ray, on a pod ray-tls has not rendered. */
function userTokens({ target: t, spec, at, pod }: NodeEdit): void {
  if (t.owned) return;
  for (const listKey of ['initContainers', 'containers'] as const) {
    const list = spec.get(listKey, true);
    if (!isSeq(list)) continue;
    (list as YAMLSeq).items.forEach((c, i) => {
      if (!isMap(c) || !pod.rayContainers.ray.has(String(c.get('name')))) return;
      const env = (c as YAMLMap).get('env', true);
      if (!isSeq(env)) return;
      (env as YAMLSeq).items.forEach((e, j) => {
        if (!isMap(e) || e.get('name') !== ENV_TOKEN) return;
        t.conflicts.push({
          field: at(`spec.${listKey}[${i}].env[${j}]`),
          current: toJson(e, t.doc),
          proposed: null,
          message: `${ENV_TOKEN} would override the token file ray-tls mounts (${TOKEN_PATH_VAR})`,
          fix: `: remove ${ENV_TOKEN}; ray-tls gives every Ray process the token from Secret authSecret`,
        });
      });
    });
  }
}

export const auth: PodFilter = (edits, pod, { pods: settings }) => {
  if (!pod.auth || !settings.authToken) return edits;
  return {
    ...edits,
    env: [...edits.env, ...authEnv(settings.authToken)],
    mounts: [...edits.mounts, tokenMount],
    volumes: [...edits.volumes, tokenVolume(settings.authToken, pod.secretMode)],
    stale: { ...edits.stale, env: [...edits.stale.env, ENV_TOKEN] },
    after: [...edits.after, userTokens],
  };
};
