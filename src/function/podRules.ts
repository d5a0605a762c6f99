// The validator's rules for one pod template, judged by what its containers will do, not by
// their names: ray-tls's own init containers are those equal to what the function emits for
// the pod (expected.ts); every other container of a Ray pod must run Ray with TLS on, read its
// certificate from a read-only mount of the ray-tls volume, leave the TLS env alone, and, like
// every container of any pod, never see a CA key.
import { posix } from 'node:path';
import type { Resource } from '../krm/resource.js';
import { about, type Result } from '../krm/results.js';
import { tlsEnvWrite } from '../ray/envWrites.js';
import { autoscalerOptionsPath, fieldPath, groupPath, inKubeRayGroup, type PodTemplateRef } from '../ray/kinds.js';
import type { PodView } from '../ray/pods.js';
import { argvOf } from '../ray/rayStart.js';
import { OWN_CONTAINERS, TLS_VARS, VOLUME } from '../tls/pod.js';
import { deepEqual, getIn, isMap, type Json, type JsonMap, mapsOf } from '../yaml/json.js';

export interface PodCheck {
  resource: Resource;
  ref: PodTemplateRef;
  pod: PodView;
  /** Undefined for a pod that is not Ray (only the CA key rule applies). */
  role?: 'node' | 'client';
  /** The template ray-tls would render for this pod under the config. */
  expected?: JsonMap;
  /** ray-tls's own init containers (equal to the expected ones). */
  own: Set<JsonMap>;
  /** The Secrets that hold a CA key. */
  cas: Set<string>;
  /** Where the TLS files live when the expected template does not say. */
  mountPath: string;
  /** An opt-out annotation the pod carries, which the validator does not honour. */
  optOut?: string;
}

interface Container {
  c: JsonMap;
  name: string;
  /** Its field path from the resource: `spec.template.spec.containers[0]`. */
  at: string;
  listKey: 'containers' | 'initContainers';
}

/** The KubeRay autoscaler, as the validator names it (no pod container has a space in its name). */
const AUTOSCALER = 'autoscaler (autoscalerOptions)';
const SAFE_KEYS = new Set(['ca.crt', 'tls.crt']);
const TLS_ON = /^(1|true)$/;
const short = (s: string) => (s.length > 60 ? `${s.slice(0, 57)}...` : s);

export function checkPod(check: PodCheck): Result[] {
  const out: Result[] = [];
  const err = (field: string, message: string) => {
    const exempt = check.optOut
      ? `; annotation ${check.optOut} does not exempt a Ray pod from the validator (remove it and render)`
      : '';
    out.push(about(check.resource, 'error', `${message}${exempt}`, { path: field }));
  };
  for (const k of containersOf(check)) {
    if (check.own.has(k.c)) continue;
    keyAccess(check, k, err);
    if (!check.role) continue;
    tlsEnv(check, k, err);
    writableMounts(k, err);
    const wrote = tlsEnvWrite(argvOf(k.c.command, k.c.args));
    const inArgs = k.c.args !== undefined && !tlsEnvWrite(argvOf(k.c.command, undefined));
    if (wrote)
      err(
        `${k.at}.${inArgs ? 'args' : 'command'}`,
        `${who(check, k)} changes the TLS environment in its command: ${short(wrote)}; ray-tls sets RAY_USE_TLS ` +
          'and RAY_TLS_* in the pod spec: remove that from the command',
      );
  }
  if (check.role) {
    ownDifferences(check, err);
    volumeDifferences(check, err);
    kubeRayShell(check, err);
  }
  return out;
}

type Err = (field: string, message: string) => void;

const who = (check: PodCheck, k: Container) =>
  `${check.role ? `Ray ${check.role} ` : ''}${k.listKey === 'initContainers' ? 'init ' : ''}container ${k.name}`;

/** The pod's containers, and the KubeRay autoscaler, which the operator adds to the head pod with autoscalerOptions. */
function containersOf(check: PodCheck): Container[] {
  const base = check.ref.path.length ? `${fieldPath(check.ref.path)}.` : '';
  const listed = (['initContainers', 'containers'] as const).flatMap((listKey) =>
    (listKey === 'containers' ? check.pod.containers : check.pod.initContainers).map((c, i) => ({
      c,
      name: String(c.name),
      at: `${base}spec.${listKey}[${i}]`,
      listKey,
    })),
  );
  const path = autoscalerOptionsPath(check.resource, check.ref);
  const options = path && getIn(check.resource as unknown as Json, path);
  if (!path || !isMap(options)) return listed;
  return [...listed, { c: options, name: AUTOSCALER, at: fieldPath(path), listKey: 'containers' }];
}

/** The last entry of each env name, as Kubernetes reads them, with its index. */
function lastEnv(c: JsonMap): Map<string, { e: JsonMap; j: number }> {
  return new Map(mapsOf(c.env).map((e, j) => [String(e.name), { e, j }]));
}

/**
 * The TLS variables a container must set: those ray-tls's own render of the pod gives it; all four for a container
 * the render does not know, a look-alike of ray-tls's own (the transformer skips those names), the autoscaler, and
 * every container when there is no render to ask.
 */
function requiredVars(check: PodCheck, k: Container): readonly string[] {
  const spec = getIn(check.expected, ['spec']);
  const hasTls = (c: JsonMap | undefined) => mapsOf(c?.env).some((e) => e.name === 'RAY_USE_TLS');
  const all = [...mapsOf(getIn(spec, ['containers'])), ...mapsOf(getIn(spec, ['initContainers']))];
  if (!all.some(hasTls) || k.name === AUTOSCALER || OWN_CONTAINERS.has(k.name)) return TLS_VARS;
  const rendered = mapsOf(getIn(spec, [k.listKey])).find((c) => c.name === k.name);
  if (!rendered) return TLS_VARS;
  const names = new Set(mapsOf(rendered.env).map((e) => e.name));
  return TLS_VARS.filter((v) => names.has(v));
}

/** RAY_USE_TLS a literal 1, and the TLS files in a read-only mount of the ray-tls volume. */
function tlsEnv(check: PodCheck, k: Container, err: Err): void {
  const env = lastEnv(k.c);
  const required = requiredVars(check, k);
  if (!required.length && !TLS_VARS.some((v) => env.has(v))) return;
  const literal = (name: string) => {
    const { e, j } = env.get(name)!;
    if (e.valueFrom === undefined && typeof e.value === 'string') return e.value;
    const fix = `set value: ${wanted(check, k, name)}`;
    err(`${k.at}.env[${j}].valueFrom`, `${who(check, k)} takes ${name} from valueFrom, not a literal value: ${fix}`);
    return undefined;
  };
  const use = env.has('RAY_USE_TLS') ? literal('RAY_USE_TLS') : '1';
  if (use === undefined) return;
  if (!TLS_ON.test(use)) {
    const field = `${k.at}.env[${env.get('RAY_USE_TLS')!.j}].value`;
    err(field, `${who(check, k)} sets RAY_USE_TLS=${short(use)}: TLS is off; set "1" (or run ray-tls over it)`);
    return;
  }
  const missing = required.filter((v) => !env.has(v));
  if (missing.length) {
    err(`${k.at}.env`, `${who(check, k)} lacks TLS: ${missing.join(', ')} not set (run ray-tls over it)`);
    return;
  }
  filesOutsideMount(check, k, env, literal, err);
}

/** The TLS files a container names (those it sets) must come from a read-only mount of the ray-tls volume. */
function filesOutsideMount(
  check: PodCheck,
  k: Container,
  env: Map<string, { e: JsonMap; j: number }>,
  literal: (name: string) => string | undefined,
  err: Err,
): void {
  const outside = TLS_VARS.slice(1)
    .filter((name) => env.has(name))
    .flatMap((name) => {
      const value = literal(name);
      const why = value === undefined ? undefined : outsideTlsMount(k.c, value);
      return why ? [{ name, value: value!, why }] : [];
    });
  if (!outside.length) return;
  const [first] = outside;
  err(
    `${k.at}.env[${env.get(first.name)!.j}].value`,
    `${who(check, k)} reads ${outside.map((o) => o.name).join(', ')} from outside a read-only mount of the ` +
      `${VOLUME} volume (${first.name}=${short(first.value)}: ${first.why}): set ${first.name} to ` +
      `${wanted(check, k, first.name)} and mount ${VOLUME} read-only (run ray-tls over it)`,
  );
}

/** What ray-tls would set a TLS variable to in this container. */
function wanted(check: PodCheck, k: Container, name: string): string {
  const containers = mapsOf(getIn(check.expected, ['spec', k.listKey]));
  const value = mapsOf(containers.find((c) => c.name === k.name)?.env)
    .filter((e) => e.name === name)
    .pop()?.value;
  if (typeof value === 'string') return JSON.stringify(value);
  const file = { RAY_USE_TLS: '', RAY_TLS_SERVER_CERT: 'tls.crt', RAY_TLS_SERVER_KEY: 'tls.key' }[name] ?? 'ca.crt';
  return JSON.stringify(file ? `${check.mountPath}/${file}` : '1');
}

/** Why the file a path names does not come from a read-only mount of the ray-tls volume (the deepest mount wins). */
function outsideTlsMount(c: JsonMap, value: string): string | undefined {
  if (!value.startsWith('/')) return 'not an absolute path';
  const path = posix.normalize(value);
  const under = (m: JsonMap) => {
    const at = posix.normalize(String(m.mountPath ?? '')).replace(/\/+$/, '');
    return at !== '' && (path === at || path.startsWith(`${at}/`)) ? at.length : -1;
  };
  const mounts = mapsOf(c.volumeMounts);
  const deepest = Math.max(-1, ...mounts.map(under));
  if (deepest < 0) return 'no volume is mounted there';
  const at = mounts.filter((m) => under(m) === deepest);
  const other = at.find((m) => m.name !== VOLUME);
  if (other) return `volume ${String(other.name)} is mounted at ${String(other.mountPath)}`;
  return at.some((m) => m.readOnly !== true) ? `the mount at ${String(at[0].mountPath)} is writable` : undefined;
}

/** Only ray-tls's own init containers write the certificate volume. */
function writableMounts(k: Container, err: Err): void {
  mapsOf(k.c.volumeMounts).forEach((m, j) => {
    if (m.name === VOLUME && m.readOnly !== true)
      err(
        `${k.at}.volumeMounts[${j}].readOnly`,
        `container ${k.name} mounts the ${VOLUME} volume writable at ${String(m.mountPath)}: set readOnly: true ` +
          `(only ray-tls's own init containers write it)`,
      );
  });
}

/** Whether a Secret projection's items reach beyond the CA certificate (no items: every key). */
const seesKey = (items: Json | undefined) =>
  !Array.isArray(items) || !items.length || mapsOf(items).some((i) => !SAFE_KEYS.has(String(i.key)));

/** The CA Secrets whose key a volume exposes. */
function volumeKeys(v: JsonMap, cas: Set<string>): string[] {
  const secret = isMap(v.secret) ? v.secret : undefined;
  const direct =
    secret && cas.has(String(secret.secretName)) && seesKey(secret.items) ? [String(secret.secretName)] : [];
  const projected = mapsOf(getIn(v, ['projected', 'sources'])).flatMap((s) => {
    const ref = isMap(s.secret) ? s.secret : undefined;
    return ref && cas.has(String(ref.name)) && seesKey(ref.items) ? [String(ref.name)] : [];
  });
  return [...direct, ...projected];
}

/** A CA key reaches a container through a mounted volume, env secretKeyRef or envFrom. */
function keyAccess(check: PodCheck, k: Container, err: Err): void {
  const volumes = new Map(check.pod.volumes.map((v) => [v.name, v]));
  const fix = "only ray-tls's own init containers may read a CA key: remove the reference";
  mapsOf(k.c.volumeMounts).forEach((m, j) => {
    const v = volumes.get(m.name);
    for (const s of v ? volumeKeys(v, check.cas) : [])
      err(
        `${k.at}.volumeMounts[${j}]`,
        `${who(check, k)} mounts the key of CA Secret ${s} (volume ${String(m.name)}); ${fix}`,
      );
  });
  mapsOf(k.c.env).forEach((e, j) => {
    const ref = getIn(e, ['valueFrom', 'secretKeyRef']);
    if (isMap(ref) && check.cas.has(String(ref.name)) && !SAFE_KEYS.has(String(ref.key)))
      err(
        `${k.at}.env[${j}].valueFrom`,
        `${who(check, k)} reads key ${String(ref.key)} of CA Secret ${String(ref.name)} into ${String(e.name)}; ${fix}`,
      );
  });
  mapsOf(k.c.envFrom).forEach((e, j) => {
    const name = getIn(e, ['secretRef', 'name']);
    if (check.cas.has(String(name)))
      err(`${k.at}.envFrom[${j}]`, `${who(check, k)} takes every key of CA Secret ${String(name)} (envFrom); ${fix}`);
  });
}

/** An own-named init container that is not what ray-tls emits: name what differs. */
function ownDifferences(check: PodCheck, err: Err): void {
  const want = mapsOf(getIn(check.expected, ['spec', 'initContainers']));
  check.pod.initContainers.forEach((c) => {
    const name = String(c.name);
    if (!OWN_CONTAINERS.has(name) || check.own.has(c)) return;
    const base = containersOf(check).find((k) => k.c === c)!.at;
    const w = want.find((x) => x.name === name);
    if (!w) {
      err(
        base,
        `init container ${name} is not one ray-tls emits for this pod under this config: render with ray-tls, ` +
          'or rename it',
      );
      return;
    }
    const keys = [...new Set([...Object.keys(c), ...Object.keys(w)])].filter((key) => !deepEqual(c[key], w[key]));
    err(
      `${base}.${keys[0]}`,
      `init container ${name} differs from what ray-tls emits for this pod (${keys.join(', ')}): it sees key ` +
        "material, so it must be ray-tls's own: render again with ray-tls, or rename your container",
    );
  });
}

/** ray-tls's volumes (the certificate volume, the CA's, the trust bundle's) as ray-tls emits them. */
function volumeDifferences(check: PodCheck, err: Err): void {
  const want = mapsOf(getIn(check.expected, ['spec', 'volumes'])).filter((v) => String(v.name).startsWith(VOLUME));
  const base = check.ref.path.length ? `${fieldPath(check.ref.path)}.` : '';
  check.pod.volumes.forEach((v, i) => {
    const w = want.find((x) => x.name === v.name);
    if (w && !deepEqual(v, w))
      err(
        `${base}spec.volumes[${i}]`,
        `volume ${String(v.name)} is not what ray-tls emits for this pod under this config (it holds the ` +
          'certificate Ray trusts): render again with ray-tls',
      );
  });
}

/** KubeRay runs shell it builds: `ray start` with rayStartParams, `ray job submit` with a job's entrypoint. */
function kubeRayShell(check: PodCheck, err: Err): void {
  const path = groupPath(check.ref);
  const at = (key: string) => getIn(check.resource as unknown as Json, [...path, key]);
  const texts: [string, string][] =
    check.ref.kuberay === 'submitter'
      ? [['entrypoint', String(at('entrypoint') ?? '')]]
      : inKubeRayGroup(check.ref)
        ? Object.entries(isMap(at('rayStartParams')) ? (at('rayStartParams') as JsonMap) : {}).map(([k, v]) => [
            `rayStartParams.${k}`,
            `--${k}=${String(v)}`,
          ])
        : [];
  for (const [field, text] of texts) {
    const wrote = tlsEnvWrite([text]);
    if (wrote)
      err(
        `${fieldPath(path)}.${field}`,
        `${field} changes the TLS environment in the shell KubeRay runs: ${short(wrote)}; remove it`,
      );
  }
}
