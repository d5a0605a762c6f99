// Helpers shared by the wire and man-in-the-middle real-Ray tests (wire.e2e.test.ts,
// mitm.e2e.test.ts): the shipped overlays' manifests, the machine checks (with the repo-wide
// RAY_TLS_SKIP_REAL switch), the Ray venv the pods' uid can run, Ray session logs, and a Ray
// client call that retries only the known ray#63202 fork crash. The same logic lives in
// tls.e2e.test.ts, which predates this module.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { run } from '../../src/function/run.js';
import {
  defaultRayVenv,
  type ExecResult,
  type Pod,
  type PodManifest,
  podFromTemplate,
  podSupport,
} from './podRunner.js';

export type Obj = Record<string, any>;

export const REPO = resolve(fileURLToPath(import.meta.url), '../../..');
export const NS = 'django-ray';

/**
 * Whether the real-Ray tests can run here. They are not skipped silently: when something is
 * missing the suite fails with the reason, unless RAY_TLS_SKIP_REAL=1 says to skip them.
 */
export function realRaySupport(extraTools: readonly string[] = []): { run: boolean; reason?: string } {
  const pods = podSupport();
  let reason = pods.ok ? undefined : pods.reason;
  for (const tool of extraTools) {
    if (!reason && spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status !== 0)
      reason = `${tool} is not installed (apt-get install -y ${tool})`;
  }
  if (reason && process.env.RAY_TLS_SKIP_REAL === '1') return { run: false, reason };
  return { run: true, reason };
}

/** `kubectl kustomize DIR` (relative to the repo) as objects. */
export function kustomizeDir(dir: string): Obj[] {
  const stream = execFileSync('kubectl', ['kustomize', join(REPO, dir)], { encoding: 'utf8' });
  return parseAllDocuments(stream)
    .map((d) => d.toJS() as Obj)
    .filter(Boolean);
}

/** `kubectl kustomize k8s/overlays/<overlay>` as objects. */
export const kustomize = (overlay: string): Obj[] => kustomizeDir(join('k8s/overlays', overlay));

/** `kubectl kustomize DIR` wrapped into a ResourceList (as scripts/start.mjs does), through run(). */
export function render(dir: string, spec?: Obj): { items: Obj[]; results: Obj[] } {
  const list: Obj = { apiVersion: 'config.kubernetes.io/v1', kind: 'ResourceList', items: kustomizeDir(dir) };
  if (spec) list.functionConfig = { apiVersion: 'ray-tls.io/v1alpha1', kind: 'RayTLS', metadata: { name: 't' }, spec };
  const out = run(stringify(list, { lineWidth: 0, indentSeq: false }));
  if (out.exitCode !== 0) throw new Error(`ray-tls failed (exit ${out.exitCode}):\n${out.stderr.join('\n')}`);
  const parsed = parse(out.stdout) as Obj;
  return { items: parsed.items as Obj[], results: (parsed.results ?? []) as Obj[] };
}

/** A pod from a client template whose (application) command is replaced by `sleep infinity`. */
export function sleepingPod(name: string, tpl: Obj, namespace: string): PodManifest {
  const pod = podFromTemplate(name, tpl, namespace);
  const c = pod.spec.containers[0]!;
  c.command = ['sleep', 'infinity'];
  delete c.args;
  return pod;
}

export function item(items: Obj[], kind: string, name: string): Obj {
  const found = items.find((i) => i.kind === kind && i.metadata?.name === name);
  if (!found) throw new Error(`no ${kind} ${name} in the manifests`);
  return found;
}

export const template = (items: Obj[], deployment: string): Obj =>
  item(items, 'Deployment', deployment).spec.template as Obj;
export const certManagerObjects = (items: Obj[]): Obj[] =>
  items.filter((i) => String(i.apiVersion).startsWith('cert-manager.io/'));

/**
 * Ray token authentication (auth: token, docs/design.md §5.2): the Secrets that the manifests' Ray
 * containers read the token from, each made under `dir` as a Secret dir (one file per key)
 * holding one random token, as `ray-tls token` makes it (32 random bytes, hex, no newline). A
 * container names it by RAY_AUTH_TOKEN_PATH, a file in a mounted Secret volume (what ray-tls
 * emits), or by RAY_AUTH_TOKEN's secretKeyRef (KubeRay's authOptions, older renders). Returns
 * Secret name -> dir (empty when no container uses a token) and the token by Secret name.
 */
export function tokenSecrets(
  items: Obj[],
  dir: string,
): { secrets: Record<string, string>; tokens: Record<string, string> } {
  const secrets: Record<string, string> = {};
  const tokens: Record<string, string> = {};
  const make = (ref: { name: string; key: string }) => {
    const secretDir = join(dir, ref.name);
    mkdirSync(secretDir, { recursive: true });
    tokens[ref.name] ??= randomBytes(32).toString('hex');
    const file = join(secretDir, ref.key);
    if (!existsSync(file)) writeFileSync(file, tokens[ref.name]!, { mode: 0o600 });
    secrets[ref.name] = secretDir;
  };
  for (const i of items) {
    const spec =
      i.spec?.template?.spec ?? i.spec?.jobTemplate?.spec?.template?.spec ?? (i.kind === 'Pod' ? i.spec : undefined);
    for (const c of [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])] as Obj[]) {
      const env = (c.env ?? []) as Obj[];
      const ref = env.find((e) => e.name === 'RAY_AUTH_TOKEN')?.valueFrom?.secretKeyRef;
      if (ref) make(ref);
      const path = env.find((e) => e.name === 'RAY_AUTH_TOKEN_PATH')?.value as string | undefined;
      if (path) make(tokenFileSecret(spec, c, path));
    }
  }
  return { secrets, tokens };
}

/** The Secret and key behind a file path in a container's mounts. */
function tokenFileSecret(spec: Obj, c: Obj, path: string): { name: string; key: string } {
  const mount = ((c.volumeMounts ?? []) as Obj[]).find((m) => path.startsWith(`${m.mountPath}/`));
  const secret = ((spec.volumes ?? []) as Obj[]).find((v) => v.name === mount?.name)?.secret;
  if (!mount || !secret) throw new Error(`container ${c.name}: RAY_AUTH_TOKEN_PATH ${path} is in no Secret volume`);
  const file = path.slice(mount.mountPath.length + 1);
  const key = ((secret.items ?? []) as Obj[]).find((it) => it.path === file)?.key ?? file;
  return { name: secret.secretName, key };
}

/** Service name -> the pod (of `pods`: pod name -> its template) that the Service's selector picks. */
export function serviceTargets(items: Obj[], pods: Record<string, Obj>): Record<string, string> {
  const targets: Record<string, string> = {};
  for (const svc of items.filter((i) => i.kind === 'Service')) {
    const selector = Object.entries((svc.spec?.selector ?? {}) as Record<string, string>);
    const pod = Object.entries(pods).find(
      ([, tpl]) => selector.length > 0 && selector.every(([k, v]) => tpl.metadata?.labels?.[k] === v),
    );
    if (pod) targets[svc.metadata.name as string] = pod[0];
  }
  return targets;
}

function pythonRunsAs(python: string, uid: number, gid: number): boolean {
  const r = spawnSync(
    '/usr/bin/setpriv',
    [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--', '/bin/sh', '-c', 'exec "$0" -c "import ray"', python],
    { cwd: '/', encoding: 'utf8' },
  );
  return r.status === 0;
}

/**
 * A Ray venv that the pods' uid (1000, the Ray image's user) can run: the default one, or a
 * second one (.cache/ray-venv-uid) built by scripts/ensure-ray.sh from a system python3 when
 * the default venv's Python lives where that uid cannot reach (pyenv under /root).
 */
export function rayVenvForUid(uid: number, gid: number, say: (s: string) => void = () => {}): string {
  execFileSync(join(REPO, 'scripts/ensure-ray.sh'), { stdio: ['ignore', 'pipe', 'pipe'], timeout: 900_000 });
  const main = defaultRayVenv();
  if (pythonRunsAs(join(main, 'bin/python'), uid, gid)) return main;
  const python = ['/usr/local/bin/python3', '/usr/bin/python3'].find(
    (p) =>
      existsSync(p) &&
      spawnSync(
        '/usr/bin/setpriv',
        [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--', p, '-c', 'import venv'],
        { cwd: '/' },
      ).status === 0,
  );
  if (!python) throw new Error(`${main}'s Python is not usable by uid ${uid}, and no system python3 is`);
  const venv = join(dirname(main), 'ray-venv-uid');
  execFileSync(join(REPO, 'scripts/ensure-ray.sh'), {
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 900_000,
    env: { ...process.env, RAY_VENV: venv, PATH: `${dirname(python)}:${process.env.PATH ?? ''}` },
  });
  if (!pythonRunsAs(join(venv, 'bin/python'), uid, gid)) throw new Error(`${venv} is not usable by uid ${uid}`);
  say(`${main} uses a Python uid ${uid} cannot run; the pods use ${venv} (same ray[client] 2.58.0, ${python})`);
  return venv;
}

/** Starts a Ray node pod from a template and waits for `ray start` to report. */
export async function startNode(
  cluster: { startPod(m: PodManifest): Promise<Pod> },
  name: string,
  tpl: Obj,
): Promise<Pod> {
  const pod = await cluster.startPod(podFromTemplate(name, tpl, NS));
  await pod.waitForLog('Ray runtime started', { timeoutMs: 150_000 });
  return pod;
}

/**
 * A pod from the django-ray-worker template (env, client certificate mount, securityContext as
 * in the manifests); only the command differs: the Django image is not used, so the container
 * sleeps and the test runs a Python Ray client in it.
 */
export function clientPod(name: string, tpl: Obj): PodManifest {
  const pod = podFromTemplate(name, tpl, NS);
  const c = pod.spec.containers[0]!;
  c.command = ['sleep', 'infinity'];
  delete c.args;
  return pod;
}

export function logLines(text: string, re: RegExp): string[] {
  return text
    .split('\n')
    .filter((l) => re.test(l))
    .map((l) => l.trim());
}

/** Ray's session logs of a pod (its /tmp/ray), file name -> text, for files matching `name`. */
export function sessionLogs(pod: Pod, name: RegExp): Record<string, string> {
  const tmp = join(pod.dir, 'tmp-ray');
  let session: string;
  try {
    session = basename(readlinkSync(join(tmp, 'session_latest')));
  } catch {
    return {};
  }
  const dir = join(tmp, session, 'logs');
  if (!existsSync(dir)) return {};
  return Object.fromEntries(
    readdirSync(dir)
      .filter((f) => name.test(f))
      .map((f) => [f, readFileSync(join(dir, f), 'utf8')]),
  );
}

// Known Ray bug (ray-project/ray#63202): the head's client proxier forks a server per client
// while gRPC threads are busy and the child sometimes dies right after fork. Not TLS: such an
// attempt is retried (at most twice), unchanged, and only when the head's log shows the crash: gRPC's
// fork warning, a failed check, or the forked server's poller dying on a closed descriptor.
const RAY_CLIENT_FLAKE = new RegExp(
  [
    String.raw`Starting Ray client server failed`,
    String.raw`Initialization failure from server:[\s\S]*start_specific_server[\s\S]*ZombieProcess`,
  ].join('|'),
);
const FORK_CRASH = /skipping fork\(\) handlers|Check failed|epoll_wait error: Bad file descriptor/g;
const forkCrashes = (head: Pod): number =>
  (
    Object.values(sessionLogs(head, /^ray_client_server.*\.err$/))
      .join('\n')
      .match(FORK_CRASH) ?? []
  ).length;

export async function execClient(
  client: Pod,
  head: Pod,
  argv: string[],
  say: (m: string) => void,
  label: string,
): Promise<ExecResult> {
  for (let attempt = 1; ; attempt++) {
    const before = forkCrashes(head);
    const r = await client.exec(argv, { timeoutMs: 240_000 });
    if (r.code === 0 || attempt > 2 || !RAY_CLIENT_FLAKE.test(r.stderr) || forkCrashes(head) === before) return r;
    say(
      `${label}: Ray client attempt ${attempt} hit ray#63202 ` +
        `(${logLines(r.stderr, /Starting Ray client server failed|ZombieProcess/)[0]}); retrying`,
    );
  }
}

/** Polls `fn` until it returns a value other than undefined. */
export async function waitFor<T>(fn: () => T | undefined, timeoutMs: number, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
