// Which containers of a Ray pod talk to Ray, and so get the node's key, the trust and the token
// (least material: a log shipper sidecar or a `git clone` init container gets none of them).
// A container shows Ray by its image, a `ray` command, a RAY_ variable or a ray:// address; a
// node's Ray container (the one that runs `ray start`, KubeRay's first) always does. The pod's
// annotations add one that talks to Ray without showing it, or take one away. Decided on the
// input, ignoring what ray-tls adds itself, so a second run decides the same.
import { type JsonMap, mapsOf } from '../yaml/json.js';
import type { PodView } from './pods.js';
import { argvOf } from './rayStart.js';

/** Comma-separated container names that talk to Ray without showing it. */
export const RAY_CONTAINERS_ANNOTATION = 'ray-tls.io/ray-containers';
/** Comma-separated container names that show Ray but must get nothing from ray-tls. */
export const NOT_RAY_CONTAINERS_ANNOTATION = 'ray-tls.io/not-ray-containers';

export interface RayContainers {
  /** Names of the containers that get the TLS files, trust and token. */
  ray: Set<string>;
  /** Why each of them does, by name. */
  why: Map<string, string>;
  /** The other containers, which get nothing. */
  others: string[];
}

/** Env that ray-tls itself injects (or injected in earlier releases): no evidence of Ray. */
const OWN_ENV = /^RAY_(USE_TLS|TLS_|AUTH_MODE$|AUTH_TOKEN$|AUTH_TOKEN_PATH$)/;
const RAY_IMAGE = /(^|[-_.])ray([-_.]|$)/i;
const RAY_COMMAND = /(^|[\s;&|(`'"/])ray(\s|$)/;

/** The last path component of an image reference, without tag or digest. */
const imageName = (image: string): string => {
  const path = image.split('@')[0] ?? '';
  const last = path.slice(path.lastIndexOf('/') + 1);
  return last.split(':')[0] ?? '';
};

/** Why a container shows Ray, or undefined. */
export function showsRay(c: JsonMap): string | undefined {
  if (typeof c.image === 'string' && RAY_IMAGE.test(imageName(c.image))) return `image ${c.image}`;
  const argv = argvOf(c.command, c.args);
  if (argv.some((a) => a.includes('ray://'))) return 'a ray:// address in its command';
  if (argv.some((a) => RAY_COMMAND.test(a))) return 'a `ray` command';
  for (const e of mapsOf(c.env)) {
    if (typeof e.value === 'string' && e.value.startsWith('ray://')) return `${String(e.name)}=${e.value}`;
    if (typeof e.name === 'string' && e.name.startsWith('RAY_') && !OWN_ENV.test(e.name)) return `env ${e.name}`;
  }
  return undefined;
}

const names = (v: string | undefined): Set<string> =>
  new Set(
    (v ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );

/**
 * The containers of a pod that talk to Ray. `own` are ray-tls's own init containers (left out);
 * `rayContainer` is the index of a node's Ray container, which no annotation can take away.
 * A pod where nothing shows Ray (a client picked by clientSelector or the role annotation)
 * gives its regular containers everything, as before.
 */
export function rayContainers(pod: PodView, own: ReadonlySet<string>, rayContainer?: number): RayContainers {
  const include = names(pod.annotations[RAY_CONTAINERS_ANNOTATION]);
  const exclude = names(pod.annotations[NOT_RAY_CONTAINERS_ANNOTATION]);
  const why = new Map<string, string>();
  const all = [...pod.initContainers, ...pod.containers].filter((c) => !own.has(String(c.name)));
  for (const c of all) {
    const name = String(c.name);
    const reason = (include.has(name) && `annotation ${RAY_CONTAINERS_ANNOTATION}`) || showsRay(c);
    if (reason && !exclude.has(name)) why.set(name, reason);
  }
  const ray = rayContainer === undefined ? undefined : pod.containers[rayContainer];
  if (ray) why.set(String(ray.name), 'it runs Ray');
  if (!why.size)
    for (const c of pod.containers)
      if (!exclude.has(String(c.name))) why.set(String(c.name), 'no container shows Ray: every container');
  const chosen = new Set(why.keys());
  return { ray: chosen, why, others: all.map((c) => String(c.name)).filter((n) => !chosen.has(n)) };
}
