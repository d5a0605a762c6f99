// Ray token authentication as the function emits it (`auth: token`, docs/design.md §5.2), on real
// Ray 2.58 in local pods (§7), and the hardened per-pod init container.
//
// k8s/base is rendered through run() with spec {auth: token}: every Ray container gets
// RAY_AUTH_MODE=token and RAY_AUTH_TOKEN_PATH, a file from the Secret ray-auth-token (key auth_token)
// mounted read-only, which the test makes with a random token (as `ray-tls token` does): the token
// is in no container's env. Head and worker start from the
// emitted templates, the init containers under their emitted securityContext (read-only root,
// capabilities dropped, no_new_privs: the pod runner honours these, see podRunner.ts).
//   - the init container issues the leaf ("ray-tls: issued a certificate for ..."), and its
//     processes, sampled from /proc while they run, have CapEff 0, NoNewPrivs 1, uid 1000 and a
//     read-only / (a write to / from inside the container fails);
//   - the cluster forms (head + worker alive); the head's exec probes pass with the token;
//   - the Django-Ray client pod (with the token) runs a task on each node and moves 50 MB;
//   - a client with a valid client certificate but no token, a wrong token, or token auth
//     turned off is refused;
//   - each node's runtime-env agent (HTTP) answers 401 without the token, 403 with a wrong one,
//     200 with `Authorization: Bearer TOKEN` (and `X-Ray-Authorization`).
//
// Run: npx vitest run --config test/ray/vitest.config.ts test/ray/auth.e2e.test.ts (root;
// fails when the machine cannot run pods, unless RAY_TLS_SKIP_REAL=1). About 2-4 minutes.
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLIENT_SCRIPT, MB50 } from './clientScript.js';
import { certificateText, issueCertificates, secretDirs, verifySecret } from './issuer.js';
import { type ExecResult, type Pod, PodCluster, podFromTemplate } from './podRunner.js';
import {
  certManagerObjects,
  clientFailure,
  clientPod,
  databaseSecret,
  execClient,
  logLines,
  NS,
  need,
  type Obj,
  realRayRuns,
  realRayScratch,
  render,
  serviceTargets,
  sessionLogs,
  template,
  tokenSecrets,
} from './realRay.js';

// Fails the file when this machine cannot run pods, unless RAY_TLS_SKIP_REAL=1 (then a loud skip).
const real = realRayRuns('real-Ray auth tests');
const say = (msg: string) => console.log(`[auth] ${msg}`);

// A refused client gives up after 3 attempts of 2 s instead of 5+10+15 s (Ray's own settings).
const SHORT_CLIENT_TIMEOUT = { RAY_CLIENT_INITIAL_CONNECTION_TIMEOUT_S: '2', RAY_CLIENT_MAX_CONNECTION_TIMEOUT_S: '2' };
const CONNECT = ['python', '-c', 'import ray; ray.init(); print("CONNECTED", len(ray.nodes()))'];

/** A Ray client expected to be refused: one attempt, the short timeout. */
async function tryConnect(
  client: Pod,
  env: Record<string, string> = {},
): Promise<ExecResult & { seconds: number; error: string }> {
  const t0 = Date.now();
  const r = await client.exec(CONNECT, { env: { ...SHORT_CLIENT_TIMEOUT, ...env }, timeoutMs: 120_000 });
  return { ...r, seconds: (Date.now() - t0) / 1000, error: logLines(r.stderr, /Error|error:/).pop() ?? '' };
}

// POSTs an empty GetRuntimeEnvsInfoRequest to argv[1] with no token, a wrong token, and the pod's
// token (the file RAY_AUTH_TOKEN_PATH names) as `Authorization: Bearer` and as `X-Ray-Authorization: Bearer`.
const HTTP_SCRIPT = `
import json, os, sys, urllib.error, urllib.request
url, token = sys.argv[1], open(os.environ["RAY_AUTH_TOKEN_PATH"]).read().strip()
tries = [("none", {}), ("wrong", {"Authorization": "Bearer " + "0" * 64}),
         ("bearer", {"Authorization": "Bearer " + token}), ("x-ray", {"X-Ray-Authorization": "Bearer " + token})]
out = {"token": len(token)}
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
for label, headers in tries:
    req = urllib.request.Request(url, data=b"", headers=headers, method="POST")
    try:
        with opener.open(req, timeout=20) as r:
            out[label] = [r.status, r.read()[:60].decode("latin1")]
    except urllib.error.HTTPError as e:
        out[label] = [e.code, e.read()[:60].decode("latin1")]
print("HTTP " + json.dumps(out))
`;

/** A Ray session file of a pod (its /tmp/ray/session_latest), e.g. the port files `<name>_<node id>`. */
function sessionPort(pod: Pod, name: string): number | undefined {
  const tmp = join(pod.dir, 'tmp-ray');
  let session: string;
  try {
    session = basename(readlinkSync(join(tmp, 'session_latest')));
  } catch {
    return undefined;
  }
  const f = existsSync(join(tmp, session))
    ? readdirSync(join(tmp, session)).find((x) => x.startsWith(`${name}_`))
    : undefined;
  const port = f ? Number(readFileSync(join(tmp, session, f), 'utf8').trim()) : NaN;
  return port > 0 ? port : undefined;
}

// ---------------------------------------------------------------------------------------
// The init container seen from the machine while it runs: every process of its PID namespace
// that runs the emitted script (sh -c '# Generated by ray-tls...') or openssl, sampled from /proc.

interface InitSample {
  pid: number;
  argv0: string;
  uid: string;
  capEff: string;
  capBnd: string;
  noNewPrivs: string;
  seccomp: string;
  rootMount: string; // the mount options of / in the process's mount namespace
}

function descendants(pid: number): number[] {
  const out: number[] = [];
  const walk = (p: number) => {
    let kids: number[] = [];
    try {
      kids = readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').split(/\s+/).filter(Boolean).map(Number);
    } catch {
      return;
    }
    for (const k of kids) {
      out.push(k);
      walk(k);
    }
  };
  walk(pid);
  return out;
}

function sampleProcess(pid: number): InitSample | undefined {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const isScript = argv[0] === 'sh' && argv[1] === '-c' && (argv[2] ?? '').startsWith('# Generated by ray-tls');
    if (!isScript && !basename(argv[0] ?? '').startsWith('openssl')) return undefined;
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (k: string) => new RegExp(`^${k}:\\s*(.*)$`, 'm').exec(status)?.[1]?.replace(/\s+/g, ' ') ?? '?';
    const root = readFileSync(`/proc/${pid}/mountinfo`, 'utf8')
      .split('\n')
      .map((l) => l.split(' '))
      .filter((f) => f[4] === '/')
      .pop(); // the topmost mount at /
    return {
      pid,
      argv0: isScript ? 'sh -c <ray-tls init script>' : `openssl ${argv[1] ?? ''}`,
      uid: field('Uid'),
      capEff: field('CapEff'),
      capBnd: field('CapBnd'),
      noNewPrivs: field('NoNewPrivs'),
      seccomp: field('Seccomp'),
      rootMount: root?.[5] ?? '?',
    };
  } catch {
    return undefined; // gone between listing and reading
  }
}

/**
 * Watches pod `name`'s container `container` while cluster.startPod runs it: samples its
 * script/openssl processes every 20 ms and, the first time the script is seen, tries a write
 * to / from inside the container (an exec into its namespaces, as its user and securityContext).
 */
function watchInit(
  cluster: PodCluster,
  name: string,
  container: string,
): { stop: () => Promise<{ samples: InitSample[]; write?: ExecResult | string }> } {
  const samples = new Map<number, InitSample>();
  let write: Promise<ExecResult | string> | undefined;
  let stopped = false;
  const tick = () => {
    if (stopped) return;
    let pod: Pod | undefined;
    try {
      pod = cluster.pod(name);
    } catch {
      /* not created yet */
    }
    const proc = pod?.processes.find((p) => p.name === container && p.exitCode === undefined);
    if (pod && proc) {
      for (const pid of descendants(proc.pid)) {
        const s = sampleProcess(pid);
        if (s && !samples.has(pid)) samples.set(pid, s);
      }
      if (!write && [...samples.values()].some((s) => s.argv0.startsWith('sh'))) {
        write = pod
          .exec(['sh', '-c', 'touch /ray-tls-auth-rootfs-probe && echo wrote-root'], { container, timeoutMs: 10_000 })
          .catch((e: Error) => `exec missed the running init container: ${e.message.split('\n')[0]}`);
      }
    }
    setTimeout(tick, 20);
  };
  tick();
  return {
    stop: async () => {
      stopped = true;
      return { samples: [...samples.values()], write: await write };
    },
  };
}

// ---------------------------------------------------------------------------------------

describe.runIf(real)('Ray token authentication (auth: token) and the hardened init container, on real Ray', () => {
  const scratch = realRayScratch('auth', say);
  const { keep } = scratch;
  let cluster: PodCluster | undefined;
  let items: Obj[] = [];
  let token = '';
  let head: Obj;
  let worker: Obj;
  let django: Obj;
  let headPod: Pod | undefined;
  let workerPod: Pod | undefined;
  let client: Pod | undefined;
  const inits: Record<string, { samples: InitSample[]; write?: ExecResult | string }> = {};
  const started = Date.now();

  afterAll(() => cluster?.stop());

  it(
    'renders k8s/base with auth: token: every Ray container reads the token file RAY_AUTH_TOKEN_PATH from Secret ' +
      'ray-auth-token; the init container is hardened',
    (ctx) => {
      keep(ctx);
      ({ items } = render('k8s/base', { auth: 'token' }));
      head = template(items, 'ray-head');
      worker = template(items, 'ray-worker');
      django = template(items, 'django-ray-worker');
      for (const [name, tpl] of [
        ['ray-head', head],
        ['ray-worker', worker],
        ['django-ray-worker', django],
      ] as const) {
        const env = tpl.spec.containers[0].env as Obj[];
        expect(
          env.find((e) => e.name === 'RAY_AUTH_MODE'),
          name,
        ).toEqual({ name: 'RAY_AUTH_MODE', value: 'token' });
        expect(
          env.find((e) => e.name === 'RAY_AUTH_TOKEN_PATH'),
          name,
        ).toEqual({ name: 'RAY_AUTH_TOKEN_PATH', value: '/etc/ray/auth/auth_token' });
        expect(tpl.spec.containers[0].volumeMounts, name).toContainEqual({
          name: 'ray-tls-auth-token',
          mountPath: '/etc/ray/auth',
          readOnly: true,
        });
        const volume = (tpl.spec.volumes as Obj[]).find((v) => v.name === 'ray-tls-auth-token');
        expect(volume?.secret, name).toMatchObject({
          secretName: 'ray-auth-token',
          items: [{ key: 'auth_token', path: 'auth_token' }],
        });
        expect(JSON.stringify(tpl), name).not.toContain('"RAY_AUTH_TOKEN"');
      }
      for (const tpl of [head, worker]) {
        const init = tpl.spec.initContainers[0] as Obj;
        expect(init.name).toBe('ray-tls-init');
        expect(init.securityContext).toMatchObject({
          allowPrivilegeEscalation: false,
          privileged: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ['ALL'] },
          seccompProfile: { type: 'RuntimeDefault' },
        });
      }
      say(
        `ray-tls-init securityContext: ${JSON.stringify(head.spec.initContainers[0].securityContext)}; pod ` +
          `securityContext: ${JSON.stringify(head.spec.securityContext)}`,
      );
    },
  );

  it('the cluster forms with the token; each init container issues its leaf with CapEff 0, NoNewPrivs 1 and a ' +
    'read-only /', async (ctx) => {
    keep(ctx);
    const issued = secretDirs(issueCertificates(certManagerObjects(items), join(scratch.work, 'secrets')), NS);
    expect(verifySecret(issued['django-ray-worker-ray-tls-client']!, 'sslclient').ok).toBe(true);
    const auth = tokenSecrets(items, join(scratch.work, 'auth'));
    expect(Object.keys(auth.secrets)).toEqual(['ray-auth-token']);
    // The Django app's own Secret (DATABASE_URL), which the client pod's env references.
    const db = databaseSecret(join(scratch.work, 'django-ray-database'));
    token = auth.tokens['ray-auth-token']!;
    cluster = PodCluster.create({
      workDir: join(scratch.work, 'cluster'),
      namespace: NS,
      services: serviceTargets(items, { 'ray-head': head, 'ray-worker-1': worker, 'django-ray-worker': django }),
      secrets: { ...issued, ...auth.secrets, 'django-ray-database': db },
      rayVenv: scratch.venv,
    });
    const startNode = async (name: string, tpl: Obj): Promise<Pod> => {
      const watch = watchInit(cluster!, name, 'ray-tls-init');
      let pod: Pod;
      try {
        pod = await cluster!.startPod(podFromTemplate(name, tpl, NS));
      } finally {
        inits[name] = await watch.stop();
      }
      await pod.waitForLog('Ray runtime started', { timeoutMs: 150_000 });
      return pod;
    };
    headPod = await startNode('ray-head', head);
    workerPod = await startNode('ray-worker-1', worker);
    say(
      `cluster (head ${headPod.ip}, worker ${workerPod.ip}) up after ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );

    for (const p of [headPod, workerPod]) {
      const issuedLine = logLines(p.logs('ray-tls-init'), /^ray-tls: issued a certificate for/)[0];
      say(`${p.name} ray-tls-init: ${issuedLine}`);
      expect(issuedLine).toContain(`IP:${p.ip},`);
      expect(p.exitCode('ray-tls-init')).toBe(0);
      expect(certificateText(join(p.volumeDir('ray-tls'), 'tls.crt'))).toContain(`IP Address:${p.ip}`);
      const { samples, write } = inits[p.name]!;
      // One line per distinct state (the script forks sh for command substitutions, and openssl).
      const states = new Map<string, string[]>();
      for (const s of samples) {
        const key =
          `Uid ${s.uid}; CapEff ${s.capEff}; CapBnd ${s.capBnd}; NoNewPrivs ${s.noNewPrivs}; Seccomp ` +
          `${s.seccomp}; / mounted ${s.rootMount}`;
        states.set(key, [...(states.get(key) ?? []), s.argv0.startsWith('sh') ? 'sh' : s.argv0]);
      }
      for (const [state, who] of states)
        say(
          `${p.name} ray-tls-init, ${who.length} processes sampled from /proc (${[...new Set(who)].join(', ')}): ` +
            `${state}`,
        );
      expect(
        samples.filter((s) => s.argv0.startsWith('sh')).length,
        'the init script was seen running',
      ).toBeGreaterThan(0);
      for (const s of samples) {
        expect(s.capEff).toBe('0000000000000000');
        expect(s.capBnd).toBe('0000000000000000');
        expect(s.noNewPrivs).toBe('1');
        expect(s.uid.split(' ')).toEqual(['1000', '1000', '1000', '1000']);
        expect(s.rootMount.split(',')).toContain('ro');
      }
      // The write to / from inside the running init container (best effort: the script may end first).
      const w =
        typeof write === 'string' || write === undefined
          ? (write ?? 'no exec')
          : `exit ${write.code}: ${(write.stdout + write.stderr).trim()}`;
      say(`${p.name} ray-tls-init: \`touch /ray-tls-auth-rootfs-probe\` in the container: ${w}`);
      if (write && typeof write !== 'string' && !/not running|no process/.test(write.stderr)) {
        expect(write.stdout).not.toContain('wrote-root');
        expect(write.stderr).toMatch(/Read-only file system|Permission denied/);
      }
      expect(existsSync('/ray-tls-auth-rootfs-probe')).toBe(false);
    }
    // The head's exec probes (ray health-check over TLS), with the container's env and token.
    for (const name of ['readinessProbe', 'livenessProbe'] as const) {
      const probe = head.spec.containers[0][name] as Obj | undefined;
      if (!probe?.exec) continue;
      const r = await headPod.exec(probe.exec.command as string[], {
        timeoutMs: Number(probe.timeoutSeconds ?? 1) * 1000,
      });
      say(
        `ray-head ${name} \`${(probe.exec.command as string[]).join(' ')}\`: ` +
          `${r.timedOut ? 'no answer within timeoutSeconds' : `exit ${r.code}`}`,
      );
      expect(r.code, r.stderr).toBe(0);
    }
  }, 600_000);

  it('the Django-Ray client pod with the token runs a task on each node and moves 50 MB', async (ctx) => {
    keep(ctx);
    const h = need(headPod, 'the head');
    const w = need(workerPod, 'the worker');
    client = await cluster!.startPod(clientPod('django-ray-worker', django));
    const r = await execClient(client, h, ['python', '-c', CLIENT_SCRIPT, h.ip, w.ip], say, 'client with token');
    const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
    expect(line, clientFailure('the client', r)).toBeDefined();
    say(`client with the token: ${line}`);
    const result = JSON.parse(line!.slice('RESULT '.length)) as {
      nodes: string[];
      ran: Record<string, [string, string]>;
      moved: [number, string];
    };
    expect(result.nodes).toEqual([h.ip, w.ip].sort());
    expect(result.ran[h.ip]).toEqual(['ray-head', h.ip]);
    expect(result.ran[w.ip]).toEqual(['ray-worker-1', w.ip]);
    expect(result.moved).toEqual([MB50, 'ray-worker-1']);
    // The token is a read-only file (0440 with the pod's fsGroup, like the CA files), in no env.
    for (const p of [h, w, need(client, 'the client pod')]) {
      const r = await p.exec(['sh', '-c', 'stat -c "%a %U:%G" "$RAY_AUTH_TOKEN_PATH"; env'], { timeoutMs: 30_000 });
      const [mode, ...env] = r.stdout.trim().split('\n');
      const inEnv = env.some((l) => l.includes(token)) ? 'yes' : 'no';
      say(`${p.name}: token file $RAY_AUTH_TOKEN_PATH ${mode}; the token in the container's env: ${inEnv}`);
      expect(mode).toMatch(/^4[04]0 /);
      expect(env.join('\n')).not.toContain(token);
      expect(env).toContain('RAY_AUTH_TOKEN_PATH=/etc/ray/auth/auth_token');
    }
  }, 600_000);

  it('a client with a valid client certificate but no token, a wrong token, or auth off is refused', async (ctx) => {
    keep(ctx);
    const h = need(headPod, 'the head');
    const withToken = need(client, 'the client pod');
    const clientLog = () => Object.values(sessionLogs(h, /^ray_client_server.*\.(err|out)$/)).join('\n');
    const mark = clientLog().length;
    // The same pod spec minus RAY_AUTH_TOKEN_PATH (RAY_AUTH_MODE=token stays; HOME has no ~/.ray/auth_token).
    const bare = clientPod('no-token-client', django);
    bare.spec.containers[0]!.env = bare.spec.containers[0]!.env!.filter((e) => e.name !== 'RAY_AUTH_TOKEN_PATH');
    const noTokenPod = await cluster!.startPod(bare);
    // No token with RAY_AUTH_MODE=token: Ray refuses on the client side, before dialing. A wrong
    // token, or auth off (no token sent at all): the head refuses, the client times out.
    const refusals: [string, Awaited<ReturnType<typeof tryConnect>>, RegExp][] = [
      [
        'no token (RAY_AUTH_TOKEN_PATH not set)',
        await tryConnect(noTokenPod),
        /AuthenticationError: Token authentication is enabled but Ray couldn't find an authentication token/,
      ],
      [
        'wrong token',
        await tryConnect(withToken, { RAY_AUTH_TOKEN: 'f'.repeat(64) }),
        /ConnectionError: ray client connection timeout/,
      ],
      [
        'auth off (RAY_AUTH_MODE=disabled, no token)',
        await tryConnect(noTokenPod, { RAY_AUTH_MODE: 'disabled' }),
        /ConnectionError: ray client connection timeout/,
      ],
    ];
    for (const [label, r, expected] of refusals) {
      say(
        `client with a valid client certificate, ${label}: exit ${r.code} after ${r.seconds.toFixed(1)} s: ${r.error}`,
      );
      const grpc = logLines(r.stderr, /UNAUTHENTICATED|Unauthenticated|[Ii]nvalid.*token|status = /).slice(0, 2);
      if (grpc.length) say(`  ${label}: client gRPC: ${grpc.join(' || ')}`);
      expect(r.stdout, `${label}: ${r.stderr}`).not.toContain('CONNECTED');
      expect(r.code).not.toBe(0);
      expect(r.timedOut).toBe(false);
      expect(r.stderr).toMatch(expected);
    }
    const headSide = logLines(clientLog().slice(mark), /auth|token|UNAUTHENTICATED/i);
    if (headSide.length)
      say(
        `head's Ray client server on the refused clients (${headSide.length} lines): ` +
          `${headSide.slice(0, 3).join(' || ')}`,
      );
  }, 600_000);

  it("each node's runtime-env agent answers 401 without the token, 403 with a wrong one, 200 with it", async (ctx) => {
    keep(ctx);
    const from = need(client, 'the client pod');
    for (const p of [need(headPod, 'the head'), need(workerPod, 'the worker')]) {
      const port = sessionPort(p, 'runtime_env_agent_port');
      const dashboardAgent = sessionPort(p, 'dashboard_agent_listen_port');
      expect(port, `${p.name}: no runtime_env_agent_port file in its Ray session dir`).toBeDefined();
      const url = `http://${p.ip}:${port}/get_runtime_envs_info`;
      const r = await from.exec(['python', '-c', HTTP_SCRIPT, url], { timeoutMs: 90_000 });
      const line = r.stdout.split('\n').find((l) => l.startsWith('HTTP '));
      expect(line, r.stderr).toBeDefined();
      const res = JSON.parse(line!.slice('HTTP '.length)) as Record<string, [number, string]> & { token: number };
      say(
        `${p.name} runtime-env agent POST ${url} from the client pod: no token ${res.none![0]} ` +
          `(${JSON.stringify(res.none![1])}); wrong token ${res.wrong![0]} (${JSON.stringify(res.wrong![1])}); ` +
          `Authorization: Bearer TOKEN ${res.bearer![0]}; X-Ray-Authorization: Bearer TOKEN ` +
          `${res['x-ray']![0]}${dashboardAgent ? '' : ' (no dashboard agent: ray[client] has no dashboard)'}`,
      );
      expect(res.token).toBe(token.length);
      expect(res.none![0]).toBe(401);
      expect(res.wrong![0]).toBe(403);
      expect(res.bearer![0]).not.toBe(401);
      expect(res.bearer![0]).toBe(200);
      expect(res['x-ray']![0]).toBe(200);
    }
  }, 300_000);
});
