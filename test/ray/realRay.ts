// Helpers every real-Ray test file shares: whether the machine can run them (with the repo-wide
// RAY_TLS_SKIP_REAL switch), a suite's scratch directory and teardown, the shipped overlays'
// manifests rendered as the function renders them, the Ray venv the pods' uid can run, Ray
// session logs, and a Ray client call that retries only the known ray#63202 fork crash.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { run } from '../../src/function/run.js';
import { requireRealTools } from '../support/realTools.js';
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
 * Whether a real-Ray suite runs here: pods need root and `ip netns`, and some suites `extraTools`.
 * It never skips quietly (test/support/realTools.ts); call it at a test file's top level.
 */
export function realRayRuns(what: string, extraTools: readonly string[] = []): boolean {
  const pods = podSupport();
  const missing = extraTools.find((t) => spawnSync('sh', ['-c', `command -v ${t}`], { stdio: 'ignore' }).status !== 0);
  const reason = pods.ok ? missing && `${missing} is not installed (apt-get install -y ${missing})` : pods.reason;
  return requireRealTools(what, reason);
}

/** A real-Ray suite's scratch directory, Ray venv and teardown (realRayScratch). */
export interface Scratch {
  /** The suite's temp directory (set in beforeAll). */
  readonly work: string;
  /** The Ray venv the pods' uid (1000) can run (set in beforeAll). */
  readonly venv: string;
  /** When this test fails, the directory (pod logs, Ray session logs, pcaps) is kept for inspection. */
  keep(ctx: { onTestFailed: (fn: () => void) => void }): void;
  /** Stops `c` (a PodCluster) in afterAll, after the suite's own afterAll hooks. */
  track<C extends { stop(): Promise<void> }>(c: C): C;
}

/**
 * Call first inside a real-Ray describe(): registers the hooks that make the temp directory
 * `ray-tls-<name>-*` and the pods' venv, and that stop the tracked clusters, remove the
 * directory after a green run and print the suite's total time.
 */
export function realRayScratch(name: string, say: (m: string) => void): Scratch {
  let work = '';
  let venv = '';
  let failed = false;
  const started = Date.now();
  const running: { stop(): Promise<void> }[] = [];
  beforeAll(() => {
    venv = rayVenvForUid(1000, 100, say);
    work = mkdtempSync(join(tmpdir(), `ray-tls-${name}-`));
  }, 900_000);
  afterAll(async () => {
    for (const c of running.reverse()) await c.stop();
    if (!failed && work) rmSync(work, { recursive: true, force: true });
    else if (work) console.warn(`[${name}] kept ${work} (pod logs, Ray session logs) for inspection`);
    say(`total ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });
  return {
    get work() {
      return work;
    },
    get venv() {
      return venv;
    },
    keep: (ctx) =>
      ctx.onTestFailed(() => {
        failed = true;
      }),
    track: (c) => {
      running.push(c);
      return c;
    },
  };
}

/** A pod an earlier test started, or an error that points at that test. */
export function need<T>(v: T | undefined, what: string): T {
  if (v === undefined) throw new Error(`${what} did not start (see the first failing test)`);
  return v;
}

/** The Django app's own Secret django-ray-database (DATABASE_URL), which the client pod's env references. */
export function databaseSecret(dir: string): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'DATABASE_URL'), 'postgres://unused@localhost:5432/unused');
  return dir;
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

/** `items` as a ResourceList (as scripts/start.mjs writes it), with a RayTLS config when given, through run(). */
export function renderItems(items: Obj[], spec?: Obj): { items: Obj[]; results: Obj[] } {
  const list: Obj = { apiVersion: 'config.kubernetes.io/v1', kind: 'ResourceList', items };
  if (spec) list.functionConfig = { apiVersion: 'ray-tls.io/v1alpha1', kind: 'RayTLS', metadata: { name: 't' }, spec };
  const out = run(stringify(list, { lineWidth: 0, indentSeq: false }));
  if (out.exitCode !== 0) throw new Error(`ray-tls failed (exit ${out.exitCode}):\n${out.stderr.join('\n')}`);
  const parsed = parse(out.stdout) as Obj;
  return { items: parsed.items as Obj[], results: (parsed.results ?? []) as Obj[] };
}

/** `kubectl kustomize DIR` through the function (renderItems). */
export const render = (dir: string, spec?: Obj) => renderItems(kustomizeDir(dir), spec);

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

// Known Ray bug (ray-project/ray#63202): the head's client proxier forks a specific server per
// client while other threads are inside gRPC, and the child sometimes dies or wedges right after
// fork. The head's ray_client_server*.err then shows gRPC's fork warning ("skipping fork()
// handlers"), a failed check, or the forked server's poller dying on a closed descriptor. The
// client sees "Starting Ray client server failed", a psutil.ZombieProcess from
// start_specific_server, a dropped connection, or no answer at all. Not TLS, not the function:
// such an attempt is retried (at most twice, each logged), never with changed env or commands,
// and only when the head's log shows a new crashed fork.
const CLIENT_SYMPTOM = /Starting Ray client server failed|ZombieProcess|client has already been disconnected/;
const FORK_CRASH = /skipping fork\(\) handlers|Check failed|epoll_wait error: Bad file descriptor/;
const CLIENT_TIMEOUT_MS = 240_000;
const clientServerLogs = (head: Pod): Record<string, string> => sessionLogs(head, /^ray_client_server.*\.err$/);
const forkCrashLines = (logs: Record<string, string>): string[] => logLines(Object.values(logs).join('\n'), FORK_CRASH);

/** Runs a Ray client command in `client` (env added to the pod's), retrying only on ray#63202 (above). */
export async function execClient(
  client: Pod,
  head: Pod,
  argv: string[],
  say: (m: string) => void,
  label: string,
  env?: Record<string, string>,
): Promise<ExecResult> {
  for (let attempt = 1; ; attempt++) {
    const before = forkCrashLines(clientServerLogs(head)).length;
    const r = await client.exec(argv, { env, timeoutMs: CLIENT_TIMEOUT_MS });
    if (r.code === 0) return r;
    const symptom = r.timedOut ? `no answer in ${CLIENT_TIMEOUT_MS / 1000} s` : logLines(r.stderr, CLIENT_SYMPTOM)[0];
    const logs = clientServerLogs(head);
    const crashes = forkCrashLines(logs);
    if (attempt <= 2 && symptom && crashes.length > before) {
      say(
        `${label}: Ray client attempt ${attempt} hit ray#63202 (client: ${symptom}; head: ${crashes.at(-1)}); retrying`,
      );
      continue;
    }
    for (const [f, text] of Object.entries(logs)) say(`${label} failed; the head's ${f} ends:\n${text.slice(-2000)}`);
    return r;
  }
}

/** Why a client command failed: how it ended, all it printed and the end of its stderr. */
export function clientFailure(label: string, r: ExecResult): string {
  const how = r.timedOut ? 'timed out' : `exit ${r.code}`;
  return `${label} failed (${how})\nstdout:\n${r.stdout}\nstderr:\n${r.stderr.slice(-4000)}`;
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
