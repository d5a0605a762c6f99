// CA rotation drill on real Ray (docs/design.md §5.4, §4). The function's real output (k8s/base
// through run(), per-pod mode, ECDSA keys for speed), the cert-manager stand-in (issuer.ts) and
// the local pod runner (podRunner.ts): head, worker and a client pod from the django-ray-worker
// template. A "restart" is `kubectl delete pod` + the Deployment's new pod from the currently
// deployed template (same name and IP here, fresh volumes, init containers run again).
//
//   (a) cert-manager renews the CA with the emitted settings (rotationPolicy Never: same key,
//       new certificate), the Secret changes in place; the worker restarts and re-issues its
//       leaf from the renewed CA; it rejoins and the (not restarted) client runs a task on each node.
//   (b) the three-step key rotation (trust both / new signs / drop old), each step a config
//       change and a rolling restart (head, worker, client) with a full check after every
//       single restart. The client check is a fresh Ray client process in the currently running
//       client pod. Secret changes reach running pods' Secret volumes, as the kubelet syncs them.
//   (c) skipping step 1: a new signing CA at once; the restarted worker does not join.
//
// Log lines prefixed [rotation]. Run: npx vitest run --config test/ray/vitest.config.ts
// test/ray/rotation.e2e.test.ts (root; fails without pod support unless RAY_TLS_SKIP_REAL=1).
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { run } from '../../src/function/run.js';
import { type CertificateObject, certificateText, issueCertificates, renewCertificate, secretDirs } from './issuer.js';
import { type Pod, PodCluster, podFromTemplate } from './podRunner.js';
import {
  certManagerObjects,
  clientFailure,
  clientPod,
  databaseSecret,
  execClient,
  item,
  logLines,
  NS,
  type Obj,
  REPO,
  realRayRuns,
  realRayScratch,
  serviceTargets,
  sessionLogs,
  template,
  waitFor,
} from './realRay.js';

// Fails the file when this machine cannot run pods, unless RAY_TLS_SKIP_REAL=1 (then a loud skip).
const real = realRayRuns('real-Ray rotation tests');
const say = (msg: string) => console.log(`[rotation] ${msg}`);

const BASE_SPEC = { privateKey: { algorithm: 'ECDSA' } };
const HEAD = 'ray-head';
const WORKER = 'ray-worker-1';
const CLIENT = 'django-ray-worker';

// ---------------------------------------------------------------------------------------
// The function

interface Rendered {
  items: Obj[];
  results: Obj[];
  exitCode: number;
  stderr: string[];
}

/** run() over `items` (default: `kubectl kustomize k8s/base`) with a RayTLS spec (merged over BASE_SPEC). */
function render(spec: Obj, items?: Obj[]): Rendered {
  const input =
    items ??
    parseAllDocuments(execFileSync('kubectl', ['kustomize', join(REPO, 'k8s/base')], { encoding: 'utf8' })).map(
      (d) => d.toJS() as Obj,
    );
  const list = {
    apiVersion: 'config.kubernetes.io/v1',
    kind: 'ResourceList',
    items: input,
    functionConfig: {
      apiVersion: 'ray-tls.io/v1alpha1',
      kind: 'RayTLS',
      metadata: { name: 't' },
      spec: { ...BASE_SPEC, ...spec },
    },
  };
  const out = run(stringify(list, { lineWidth: 0, indentSeq: false }));
  const parsed = (out.stdout ? parse(out.stdout) : {}) as Obj;
  return {
    items: (parsed.items ?? []) as Obj[],
    results: (parsed.results ?? out.results ?? []) as Obj[],
    exitCode: out.exitCode,
    stderr: out.stderr,
  };
}

function renderOk(spec: Obj, items?: Obj[]): Obj[] {
  const r = render(spec, items);
  if (r.exitCode !== 0) throw new Error(`ray-tls failed (exit ${r.exitCode}):\n${r.stderr.join('\n')}`);
  return r.items;
}

const errors = (r: Rendered): Obj[] => r.results.filter((x) => x.severity === 'error');
const certificate = (items: Obj[], name: string): CertificateObject =>
  item(items, 'Certificate', name) as unknown as CertificateObject;
const issuersOf = (items: Obj[]): Obj[] => certManagerObjects(items).filter((o) => o.kind === 'Issuer');

interface Deployed {
  head: Obj;
  worker: Obj;
  client: Obj;
}
const templates = (items: Obj[]): Deployed => ({
  head: template(items, 'ray-head'),
  worker: template(items, 'ray-worker'),
  client: template(items, 'django-ray-worker'),
});

// ---------------------------------------------------------------------------------------
// Checks run in the pods

// A fresh Ray client process (RAY_ADDRESS=ray://ray-head:10001 from the pod's env): waits until
// the alive nodes are exactly argv[1] (comma-separated addresses), then runs a task pinned to
// each alive node.
const CHECK_SCRIPT = String.raw`
import json, sys, time, ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy as Pin
want = sorted(sys.argv[1].split(","))
ray.init(logging_level="ERROR")
deadline = time.time() + float(sys.argv[2])
while True:
    alive = [n for n in ray.nodes() if n["Alive"]]
    addrs = sorted(n["NodeManagerAddress"] for n in alive)
    if addrs == want or time.time() > deadline: break
    time.sleep(1)

@ray.remote(num_cpus=0)
def where():
    import socket
    return [socket.gethostname(), ray.util.get_node_ip_address()]

ran = {}
for n in alive:
    try:
        pinned = where.options(scheduling_strategy=Pin(n["NodeID"], soft=False))
        ran[n["NodeManagerAddress"]] = ray.get(pinned.remote(), timeout=60)
    except Exception as e:
        ran[n["NodeManagerAddress"]] = ["ERROR", type(e).__name__ + ": " + str(e).splitlines()[0]]
print("RESULT " + json.dumps({"alive": addrs, "total": len(ray.nodes()), "ran": ran}))
`;

interface CheckResult {
  alive: string[];
  total: number;
  ran: Record<string, [string, string]>;
}

const TLS_ERROR = new RegExp(
  [
    'Handshake failed',
    'CERTIFICATE_VERIFY_FAILED',
    'certificate verify failed',
    'unknown ca',
    'Failed to connect to GCS',
    'session_name',
  ].join('|'),
  'i',
);

// ---------------------------------------------------------------------------------------

describe.runIf(real)('CA rotation on real Ray', () => {
  const scratch = realRayScratch('rotation', say);
  const { keep } = scratch;

  /** A running drill cluster: its Secrets (one dir per Secret, changed in place), pods and deployed templates. */
  class Drill {
    readonly secretsRoot: string;
    readonly cluster: PodCluster;
    readonly pods: Record<string, Pod> = {};
    deployed: Record<string, Obj> = {};

    constructor(
      readonly scenario: string,
      items: Obj[],
    ) {
      this.secretsRoot = join(scratch.work, scenario, 'secrets');
      const issued = secretDirs(issueCertificates(certManagerObjects(items), this.secretsRoot), NS);
      const db = databaseSecret(join(scratch.work, scenario, 'django-ray-database'));
      const t = templates(items);
      this.cluster = PodCluster.create({
        workDir: join(scratch.work, scenario, 'cluster'),
        namespace: NS,
        services: serviceTargets(items, { [HEAD]: t.head, [WORKER]: t.worker, [CLIENT]: t.client }),
        secrets: { ...issued, 'django-ray-database': db },
        rayVenv: scratch.venv,
      });
    }

    secretDir(name: string): string {
      const dir = this.cluster.secrets[name];
      if (!dir) throw new Error(`no Secret ${name}`);
      return dir;
    }

    /** Issues some of the emitted Certificates (by name) as cert-manager would now, into their Secrets (in place). */
    issue(items: Obj[], names: string[]): void {
      const certs = names.map((n) => certificate(items, n));
      const existing = Object.fromEntries(Object.entries(this.cluster.secrets).map(([k, v]) => [`${NS}/${k}`, v]));
      const issued = issueCertificates([...issuersOf(items), ...certs], this.secretsRoot, { secrets: existing });
      for (const s of issued) {
        this.cluster.addSecret(s.name, s.dir);
        this.syncSecret(s.name);
      }
    }

    /**
     * The kubelet updates Secret volumes (not subPath) of running pods when the Secret changes:
     * copies the Secret's keys into every running pod's volumes that project it.
     */
    syncSecret(name: string): void {
      const from = this.secretDir(name);
      for (const pod of Object.values(this.pods)) {
        for (const vol of pod.manifest.spec.volumes ?? []) {
          const sources = [
            ...(vol.secret?.secretName === name ? [{ items: vol.secret.items }] : []),
            ...(vol.projected?.sources ?? [])
              .filter((s) => s.secret?.name === name)
              .map((s) => ({ items: s.secret!.items })),
          ];
          for (const src of sources) {
            const keys = readdirSync(from).filter((k) => statSync(join(from, k)).isFile());
            for (const it of src.items ?? keys.map((k) => ({ key: k, path: k }))) {
              if (existsSync(join(from, it.key)))
                copyFileSync(join(from, it.key), join(pod.volumeDir(vol.name), it.path));
            }
          }
        }
      }
    }

    async start(name: string, tpl: Obj): Promise<Pod> {
      this.deployed[name] = tpl;
      const pod =
        name === CLIENT
          ? await this.cluster.startPod(clientPod(name, tpl))
          : await this.cluster.startPod(podFromTemplate(name, tpl, NS));
      if (name !== CLIENT) await pod.waitForLog('Ray runtime started', { timeoutMs: 180_000 });
      this.pods[name] = pod;
      return pod;
    }

    /** `kubectl delete pod` and the Deployment's replacement from `tpl` (what is deployed now). */
    async restart(name: string, tpl: Obj): Promise<Pod> {
      await this.cluster.deletePod(name);
      delete this.pods[name];
      return this.start(name, tpl);
    }

    get head(): Pod {
      return this.pods[HEAD]!;
    }

    /** A fresh Ray client process in the running client pod; waits for exactly `want` alive. */
    async check(want: string[], waitS = 120): Promise<CheckResult> {
      const r = await execClient(
        this.pods[CLIENT]!,
        this.head,
        ['python', '-c', CHECK_SCRIPT, want.join(','), String(waitS)],
        (m) => say(m),
        'check',
      );
      const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
      if (!line) throw new Error(clientFailure('the client', r));
      return JSON.parse(line.slice('RESULT '.length)) as CheckResult;
    }

    /** Both nodes alive and a task ran on each; logs `[rotation] <label>: alive 2/2, tasks ran on head, worker`. */
    async checkAll(label: string): Promise<void> {
      const head = this.pods[HEAD]!;
      const worker = this.pods[WORKER]!;
      const want = [head.ip, worker.ip];
      const r = await this.check(want);
      const ranOn = Object.entries(r.ran)
        .filter(([, v]) => v[0] !== 'ERROR')
        .map(([, v]) => (v[0] === HEAD ? 'head' : v[0] === WORKER ? 'worker' : v[0]));
      say(`${label}: alive ${r.alive.length}/2, tasks ran on ${ranOn.join(', ') || 'none'}`);
      expect(r.alive, JSON.stringify(r)).toEqual([...want].sort());
      expect(r.ran[head.ip]).toEqual([HEAD, head.ip]);
      expect(r.ran[worker.ip]).toEqual([WORKER, worker.ip]);
    }

    /**
     * After the head restarts, the workers' raylets lose their GCS: a worker whose `ray start` exits is restarted, as
     * the kubelet would.
     */
    async afterHeadRestart(label: string): Promise<void> {
      const worker = this.pods[WORKER]!;
      const exited = await Promise.race([
        waitFor(() => (worker.exitCode() !== undefined ? true : undefined), 150_000, 'worker exit').then(
          () => true,
          () => false,
        ),
        waitFor(() => (this.joinedNewHead(worker) ? true : undefined), 150_000, 'worker rejoin').then(
          () => false,
          () => false,
        ),
      ]);
      if (exited) {
        const why =
          logLines(worker.logs(), /exited unexpectedly|GCS|cluster ID|Error/i).slice(-1)[0] ??
          `exit ${worker.exitCode()}`;
        say(
          `${label}: ${WORKER}'s ray start exited after the head restart (${why}); the kubelet restarts it from its ` +
            `deployed template`,
        );
        await this.restart(WORKER, this.deployed[WORKER]!);
      }
    }

    private joinedNewHead(worker: Pod): boolean {
      const raylet = Object.values(sessionLogs(worker, /^raylet\.out$/))[0] ?? '';
      return /GCS restarted|resubscrib|Re-register|re-register/i.test(raylet.slice(-20000));
    }

    async stop(): Promise<void> {
      await this.cluster.stop();
    }
  }

  /** Rolling restart of head, worker, client from `tpl`, with a full check after each. */
  async function rollingRestart(d: Drill, step: string, t: Deployed): Promise<void> {
    for (const [name, tpl] of [
      [HEAD, t.head],
      [WORKER, t.worker],
      [CLIENT, t.client],
    ] as const) {
      const t0 = Date.now();
      await d.restart(name, tpl);
      if (name === HEAD) await d.afterHeadRestart(`${step}: restarted ${name}`);
      await d.checkAll(`${step}: restarted ${name} (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
    }
  }

  function caInfo(dir: string): string {
    const text = certificateText(join(dir, 'tls.crt'));
    const serial = /Serial Number:\s*\n?\s*([0-9a-f:]+)/i.exec(text)?.[1] ?? '?';
    const notAfter = /Not After : (.*)/.exec(text)?.[1] ?? '?';
    return `serial ${serial.slice(0, 23)}, notAfter ${notAfter}`;
  }

  it('rotation: CA renewal (rotationPolicy Never) and the three-step key rotation with rolling restarts, no ' +
    'outage', async (ctx) => {
    keep(ctx);
    const started = Date.now();
    const step0 = renderOk({});
    const t0 = templates(step0);
    const d = new Drill('rotation', step0);
    try {
      await d.start(HEAD, t0.head);
      await d.start(WORKER, t0.worker);
      await d.start(CLIENT, t0.client);
      await d.checkAll(`step 0: cluster up after ${((Date.now() - started) / 1000).toFixed(0)} s`);

      // (a) cert-manager renews the CA as emitted: rotationPolicy from the emitted CA Certificate.
      const caCert = certificate(step0, 'ray-tls-ca');
      expect((caCert.spec.privateKey as Obj | undefined)?.rotationPolicy).toBe('Never');
      const before = caInfo(d.secretDir('ray-tls-ca'));
      const renewed = renewCertificate(caCert, d.secretDir('ray-tls-ca'));
      d.syncSecret('ray-tls-ca');
      say(
        `(a) renewed ray-tls-ca (rotationPolicy ${renewed.rotationPolicy}): key ` +
          `${renewed.keyChanged ? 'CHANGED' : 'kept'}; ${before} -> ${caInfo(d.secretDir('ray-tls-ca'))}`,
      );
      expect(renewed.rotationPolicy).toBe('Never');
      expect(renewed.keyChanged).toBe(false);
      expect(renewed.serialAfter).not.toBe(renewed.serialBefore);
      const tr = Date.now();
      const worker = await d.restart(WORKER, t0.worker);
      const leafIssuer = /Issuer: (.*)/.exec(certificateText(join(worker.volumeDir('ray-tls'), 'tls.crt')))?.[1];
      say(`(a) ${WORKER}'s new leaf issuer: ${leafIssuer}`);
      await d.checkAll(
        `(a) CA renewed, restarted ${WORKER} (${((Date.now() - tr) / 1000).toFixed(0)} s; head and client keep the ` +
          `old CA certificate)`,
      );

      // (b) step 1: trust both, the old CA still signs.
      const step1 = renderOk({ ca: { trust: ['ray-tls-ca-2'] } });
      // Unchanged: cert-manager does not re-issue it.
      expect(certificate(step1, 'ray-tls-ca').spec).toEqual(caCert.spec);
      expect(certificate(step1, 'django-ray-worker-ray-tls-client').spec.issuerRef.name).toBe('ray-tls-ca');
      d.issue(step1, ['ray-tls-ca-2']);
      say(`step 1: {ca: {trust: [ray-tls-ca-2]}}: issued ray-tls-ca-2 (${caInfo(d.secretDir('ray-tls-ca-2'))})`);
      const t1 = templates(step1);
      await rollingRestart(d, 'step 1', t1);

      // (b) step 2: the new CA signs, both trusted.
      const step2Spec = { ca: { name: 'ray-tls-ca-2', trust: ['ray-tls-ca'] } };
      const fromStep0 = render(step2Spec, step0);
      const fromStep1 = render(step2Spec, step1);
      const step0Errors = errors(fromStep0).map((e) => String(e.message));
      say(`step 2 over step-0 output: exit ${fromStep0.exitCode}, error: ${step0Errors[0]}`);
      say(`step 2 over step-1 output: exit ${fromStep1.exitCode}, ${errors(fromStep1).length} errors`);
      expect(step0Errors.join('\n')).toMatch(/step 1/);
      expect(errors(fromStep1)).toEqual([]);
      expect(fromStep1.exitCode).toBe(0);
      const step2 = renderOk(step2Spec);
      expect(certificate(step2, 'ray-tls-ca').spec).toEqual(caCert.spec);
      expect(certificate(step2, 'ray-tls-ca-2').spec).toEqual(certificate(step1, 'ray-tls-ca-2').spec);
      const client2 = certificate(step2, 'django-ray-worker-ray-tls-client');
      expect(client2.spec.issuerRef.name).toBe('ray-tls-ca-2');
      expect(client2.spec).not.toEqual(certificate(step1, 'django-ray-worker-ray-tls-client').spec);
      // cert-manager re-issues a Certificate whose spec (issuerRef) changed; the kubelet updates the Secret in running
      // pods.
      const CLIENT_SECRET = 'django-ray-worker-ray-tls-client';
      d.issue(step2, [CLIENT_SECRET]);
      say(
        `step 2: {ca: {name: ray-tls-ca-2, trust: [ray-tls-ca]}}: client Certificate issuerRef ray-tls-ca -> ` +
          `ray-tls-ca-2, re-issued (issuer: ` +
          `${/Issuer: (.*)/.exec(certificateText(join(d.secretDir(CLIENT_SECRET), 'tls.crt')))?.[1]})`,
      );
      await d.checkAll('step 2: client Secret re-issued, nothing restarted yet');
      await rollingRestart(d, 'step 2', templates(step2));

      // (b) step 3: the old CA is dropped.
      const step3 = renderOk({ ca: { name: 'ray-tls-ca-2' } });
      expect(step3.some((i) => i.kind === 'Certificate' && i.metadata.name === 'ray-tls-ca')).toBe(false);
      expect(certificate(step3, 'django-ray-worker-ray-tls-client').spec).toEqual(client2.spec); // no re-issue
      say('step 3: {ca: {name: ray-tls-ca-2}}: ray-tls-ca no longer trusted');
      await rollingRestart(d, 'step 3', templates(step3));
      for (const name of [HEAD, WORKER]) {
        const ca = certificateText(join(d.pods[name]!.volumeDir('ray-tls'), 'ca.crt'));
        expect(ca).toContain('ray-tls-ca-2');
      }
      say(`(a)+(b): ${((Date.now() - started) / 1000).toFixed(0)} s`);
    } finally {
      await d.stop();
    }
  }, 900_000);

  it('rotation without step 1: a new signing CA at once; the restarted worker does not join (the head trusts ' +
    'only the old CA)', async (ctx) => {
    keep(ctx);
    const started = Date.now();
    const step0 = renderOk({});
    const t0 = templates(step0);
    const d = new Drill('no-step-1', step0);
    try {
      await d.start(HEAD, t0.head);
      await d.start(WORKER, t0.worker);
      await d.start(CLIENT, t0.client);
      await d.checkAll(`(c) step 0: cluster up after ${((Date.now() - started) / 1000).toFixed(0)} s`);
      const skipped = renderOk({ ca: { name: 'ray-tls-ca-3' } });
      d.issue(skipped, ['ray-tls-ca-3']);
      say(`(c) {ca: {name: ray-tls-ca-3}} from the plain base: issued ray-tls-ca-3; restarting only ${WORKER}`);
      await d.cluster.deletePod(WORKER);
      delete d.pods[WORKER];
      const worker = await d.cluster.startPod(podFromTemplate(WORKER, template(skipped, 'ray-worker'), NS));
      d.pods[WORKER] = worker;
      const head = d.head;
      const r = await d.check([head.ip], 120);
      const ranOn = Object.values(r.ran)
        .map((v) => v[0])
        .join(', ');
      say(
        `(c) after restarting ${WORKER}: alive ${r.alive.length} (${r.alive.join(', ')}) of ${r.total} nodes ` +
          `ever registered; tasks ran on ${ranOn}`,
      );
      expect(r.alive).toEqual([head.ip]);
      // The TLS error: the worker's own log or Ray session logs, or the head's GCS logs.
      const tlsLines = () => [
        ...logLines(worker.logs(), TLS_ERROR).map((l) => `${WORKER}: ${l}`),
        ...Object.entries(sessionLogs(worker, /\.(err|out|log)$/)).flatMap(([f, t]) =>
          logLines(t, TLS_ERROR).map((l) => `${WORKER} ${f}: ${l}`),
        ),
        ...Object.entries(sessionLogs(head, /^gcs_server\.(err|out)$/)).flatMap(([f, t]) =>
          logLines(t, /Handshake failed|CERTIFICATE_VERIFY_FAILED/).map((l) => `${HEAD} ${f}: ${l}`),
        ),
      ];
      const lines = await waitFor(() => (tlsLines().length ? tlsLines() : undefined), 180_000, 'a TLS error line');
      for (const l of lines.filter((x) => /Handshake|CERTIFICATE_VERIFY|verify failed|unknown ca/i.test(x)).slice(0, 2))
        say(`(c) ${l.slice(0, 400)}`);
      const other = lines.find((x) => !/Handshake|CERTIFICATE_VERIFY|verify failed|unknown ca/i.test(x));
      say(`(c) ${other?.slice(0, 400) ?? ''}`);
      expect(worker.logs()).not.toContain('Ray runtime started');
      const again = await d.check([head.ip], 5);
      say(
        `(c) later: alive ${again.alive.length}/2 (the worker never joined); ` +
          `${((Date.now() - started) / 1000).toFixed(0)} s`,
      );
      expect(again.alive).toEqual([head.ip]);
    } finally {
      await d.stop();
    }
  }, 600_000);
});
