// KubeRay-built pods on real Ray: a RayJob (its own cluster: a head and a worker group, and a
// submitter) rendered by ray-tls with auth: token, then turned into the pods KubeRay would
// create (test/support/kubeRayPods.ts, from KubeRay's source at a pinned commit) and run on
// the pod runner (design.md §7), unmodified:
//   - ray-tls gives the cluster spec authOptions {mode: token, secretName}, and no token env;
//     KubeRay's authOptions env is what carries the token into every container;
//   - the head and the worker form a TLS cluster from KubeRay's generated `ray start`; the
//     worker's wait-gcs-ready passes (ray health-check over TLS to the head Service FQDN);
//   - the probes KubeRay adds are executed as the kubelet would;
//   - the submitter's own command (KubeRay's `ray job submit`) runs; the machine's Ray is
//     ray[client], which has no dashboard (aiohttp_cors, opencensus and colorful are not on
//     this machine's package index), so the Jobs API it waits for never comes up. In its
//     place, a job runs from the submitter pod, with its env and client certificate, over
//     ray:// with the token, and the same pod without the token is refused.
// And pod-dns with KubeRay's ray.io/overwrite-container-cmd: the container's own script runs the
// generated command by a plain expansion of $KUBERAY_GEN_RAY_START_CMD (KubeRay's documented
// pattern, no eval); head and worker advertise their pod DNS names and form a cluster.
//
// Run: flock /tmp/ray-tls-real.lock npx vitest run --config test/ray/vitest.config.ts
// test/ray/kuberay.e2e.test.ts (root; fails when the machine cannot run pods, unless RAY_TLS_SKIP_REAL=1).
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildClusterPods, buildSubmitter, KUBERAY_COMMIT, type KubeRayCluster } from '../support/kubeRayPods.js';
import { issueCertificates, secretDirs } from './issuer.js';
import { type Pod, PodCluster, type PodManifest } from './podRunner.js';
import {
  certManagerObjects,
  execClient,
  logLines,
  NS,
  need,
  type Obj,
  realRayRuns,
  realRayScratch,
  renderItems,
} from './realRay.js';

// Fails the file when this machine cannot run pods, unless RAY_TLS_SKIP_REAL=1 (then a loud skip).
const real = realRayRuns('KubeRay-built real-Ray test');
const say = (msg: string) => console.log(`[kuberay] ${msg}`);

const JOB = 'kr-job';
const CLUSTER = `${JOB}-x7k2p`; // the name KubeRay generates for a RayJob's cluster
const SECRET = 'ray-auth-token';
const IMAGE = 'rayproject/ray:2.58.0';
const USER = { runAsUser: 1000, runAsGroup: 100 };
const SHORT_CLIENT_TIMEOUT = { RAY_CLIENT_INITIAL_CONNECTION_TIMEOUT_S: '2', RAY_CLIENT_MAX_CONNECTION_TIMEOUT_S: '2' };
const JOB_SCRIPT = `
import json, sys, ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy as Pin
ray.init(address=sys.argv[1])
@ray.remote(num_cpus=1)
def where():
    return ray.util.get_node_ip_address()
nodes = [n["NodeID"] for n in ray.nodes() if n["Alive"]]
ips = ray.get([where.options(scheduling_strategy=Pin(n, soft=False)).remote() for n in nodes], timeout=120)
print("JOB " + json.dumps({"nodes": len(nodes), "ran_on": sorted(ips)}))
`;

const container = (name: string, extra: Obj = {}): Obj => ({
  name,
  image: IMAGE,
  resources: { requests: { cpu: '1', memory: '1Gi' } },
  securityContext: USER,
  ...extra,
});

const rayJob: Obj = {
  apiVersion: 'ray.io/v1',
  kind: 'RayJob',
  metadata: { name: JOB, namespace: NS },
  spec: {
    entrypoint: 'python -c "import ray; ray.init(); print(ray.cluster_resources())"',
    rayClusterSpec: {
      rayVersion: '2.58.0',
      headGroupSpec: {
        rayStartParams: { 'num-cpus': '1' },
        template: { spec: { securityContext: { fsGroup: 100 }, containers: [container('ray-head')] } },
      },
      workerGroupSpecs: [
        {
          groupName: 'small',
          replicas: 1,
          rayStartParams: { 'num-cpus': '1' },
          template: { spec: { securityContext: { fsGroup: 100 }, containers: [container('ray-worker')] } },
        },
      ],
    },
    submitterPodTemplate: {
      spec: { restartPolicy: 'Never', securityContext: { fsGroup: 100 }, containers: [container('ray-job-submitter')] },
    },
  },
};

const envNames = (c: Obj): string[] => ((c.env ?? []) as Obj[]).map((e) => e.name);
const envValue = (c: Obj, name: string) => ((c.env ?? []) as Obj[]).find((e) => e.name === name)?.value;

describe.runIf(real)(`KubeRay-built pods (kuberay ${KUBERAY_COMMIT.slice(0, 7)}) with TLS and token auth`, () => {
  const scratch = realRayScratch('kuberay', say);
  const { keep } = scratch;
  let cluster: PodCluster | undefined;
  let rendered: Obj;
  let items: Obj[] = [];
  let pods: { head: PodManifest; workers: PodManifest[]; submitter: PodManifest };
  let head: Pod | undefined;
  let worker: Pod | undefined;
  let submitter: Pod | undefined;
  const started = Date.now();

  afterAll(() => cluster?.stop());

  it('KubeRay-built: ray-tls gives the cluster authOptions, no token env; KubeRay puts the token everywhere', (ctx) => {
    keep(ctx);
    ({ items } = renderItems([rayJob], { auth: 'token' }));
    rendered = items.find((i) => i.kind === 'RayJob')!;
    const spec = rendered.spec.rayClusterSpec;
    expect(spec.authOptions).toEqual({ mode: 'token', secretName: SECRET });
    expect(JSON.stringify(rendered)).not.toContain('RAY_AUTH');
    const kubeRayCluster: KubeRayCluster = { name: CLUSTER, namespace: NS, spec };
    const built = buildClusterPods(kubeRayCluster, 'RayJob');
    pods = { ...built, submitter: buildSubmitter(rendered, kubeRayCluster, `${JOB}-abcde`) };
    const ref = { name: SECRET, key: 'auth_token' };
    const containers: [string, Obj][] = [
      ['head ray-head', built.head.spec.containers[0]!],
      ['worker ray-worker', built.workers[0]!.spec.containers[0]!],
      ['worker wait-gcs-ready', built.workers[0]!.spec.initContainers!.find((c) => c.name === 'wait-gcs-ready')!],
      ['submitter', pods.submitter.spec.containers[0]!],
    ];
    for (const [what, c] of containers) {
      expect(envNames(c), what).toEqual(expect.arrayContaining(['RAY_AUTH_MODE', 'RAY_AUTH_TOKEN', 'RAY_USE_TLS']));
      expect((c.env as Obj[]).find((e) => e.name === 'RAY_AUTH_TOKEN')!.valueFrom.secretKeyRef, what).toEqual(ref);
    }
    const initOrder = built.workers[0]!.spec.initContainers!.map((c) => c.name);
    say(`worker init containers: ${initOrder.join(', ')}; head args: ${built.head.spec.containers[0]!.args![0]}`);
    say(`worker args: ${built.workers[0]!.spec.containers[0]!.args![0]}`);
    expect(initOrder).toEqual(['ray-tls-init', 'wait-gcs-ready']);
  });

  it('KubeRay-built: head and worker form a TLS cluster; wait-gcs-ready passes; the probes run', async (ctx) => {
    keep(ctx);
    const issued = secretDirs(issueCertificates(certManagerObjects(items), join(scratch.work, 'secrets')), NS);
    const tokenDir = join(scratch.work, 'auth', SECRET);
    mkdirSync(tokenDir, { recursive: true });
    writeFileSync(join(tokenDir, 'auth_token'), randomBytes(32).toString('hex'), { mode: 0o600 });
    cluster = PodCluster.create({
      workDir: join(scratch.work, 'cluster'),
      namespace: NS,
      services: { [`${CLUSTER}-head-svc`]: pods.head.metadata.name },
      secrets: { ...issued, [SECRET]: tokenDir },
      rayVenv: scratch.venv,
    });
    head = await cluster.startPod(pods.head);
    await head.waitForLog('Ray runtime started', { timeoutMs: 150_000 });
    worker = await cluster.startPod(pods.workers[0]!);
    await worker.waitForLog('Ray runtime started', { timeoutMs: 150_000 });
    say(`cluster (head ${head.ip}, worker ${worker.ip}) up after ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const issuedLine = logLines(head.logs('ray-tls-init'), /^ray-tls: issued a certificate for/)[0];
    say(`head ray-tls-init: ${issuedLine}`);
    // The cluster's head Service (its name read from the pod label) and the RayJob's own.
    expect(issuedLine).toContain(`${CLUSTER}-head-svc.${NS}.svc.cluster.local`);
    expect(issuedLine).toContain(`${JOB}-head-svc.${NS}.svc.cluster.local`);
    const wait = worker.logs('wait-gcs-ready').trim().split('\n');
    say(`worker wait-gcs-ready (exit ${worker.exitCode('wait-gcs-ready')}): ${wait.slice(-2).join(' | ')}`);
    expect(worker.exitCode('wait-gcs-ready')).toBe(0);
    expect(wait).toContain('GCS is ready.');
    // The probes as the kubelet runs them: an HTTP GET of the pod IP (httpGet) or the command (exec).
    for (const p of [head, worker]) {
      const ray = p.manifest.spec.containers[0]!;
      for (const kind of ['livenessProbe', 'readinessProbe'] as const) {
        const probe = ray[kind]!;
        const argv = probe.httpGet
          ? ['python', '-c', PROBE_GET, `http://${p.ip}:${probe.httpGet.port}${probe.httpGet.path}`]
          : (probe.exec!.command as string[]);
        const r = await p.exec(argv, { timeoutMs: 30_000 });
        const line = (r.stdout + r.stderr).trim().split('\n').pop();
        say(
          `${p.name} ${kind} ${probe.httpGet ? `GET :${probe.httpGet.port}${probe.httpGet.path}` : 'exec'}: ` +
            `exit ${r.code}: ${line}`,
        );
        // ray[client] runs no dashboard agent (port 52365): the probe cannot pass here, and fails
        // for that reason only (nothing listens), not for a missing token.
        expect(line).toMatch(/PROBE (200|refused)/);
        expect(line).not.toMatch(/PROBE 40[13]/);
      }
    }
  }, 600_000);

  it('KubeRay-built: the submitter command runs; a job from its pod runs with the token, not without', async (ctx) => {
    keep(ctx);
    const h = need(head, 'the head');
    const w = need(worker, 'the worker');
    submitter = await cluster!.startPod(pods.submitter);
    const waiting = await submitter.waitForLog('Waiting for Ray Dashboard GCS to become healthy', {
      timeoutMs: 60_000,
    });
    say(`submitter (KubeRay's command): ${waiting.trim().split('\n')[0]} (no dashboard in ray[client])`);
    const address = `ray://${CLUSTER}-head-svc.${NS}.svc.cluster.local:10001`;
    // execClient retries only the known Ray client fork crash (ray#63202), when the head's log shows it.
    const r = await execClient(submitter, h, ['python', '-c', JOB_SCRIPT, address], say, 'submitter job');
    const line = r.stdout.split('\n').find((l) => l.startsWith('JOB '));
    expect(line, `job failed (exit ${r.code})\n${r.stderr}`).toBeDefined();
    say(`job from the submitter pod with its token over ${address}: ${line}`);
    const job = JSON.parse(line!.slice(4)) as { nodes: number; ran_on: string[] };
    expect(job.nodes).toBe(2);
    expect(job.ran_on).toEqual([h.ip, w.ip].sort());
    // The same pod, its env without the token (RAY_AUTH_MODE=token stays).
    const bare = JSON.parse(JSON.stringify(pods.submitter)) as PodManifest;
    bare.metadata.name = 'no-token-submitter';
    const c = bare.spec.containers[0]!;
    c.env = c.env!.filter((e) => e.name !== 'RAY_AUTH_TOKEN');
    c.command = ['sleep', 'infinity'];
    delete c.args;
    const noToken = await cluster!.startPod(bare);
    const refused = await noToken.exec(['python', '-c', JOB_SCRIPT, address], {
      env: SHORT_CLIENT_TIMEOUT,
      timeoutMs: 120_000,
    });
    const error = logLines(refused.stderr, /Error/).pop();
    say(`the submitter pod without the token: exit ${refused.code}: ${error}`);
    expect(refused.stdout).not.toContain('JOB ');
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/AuthenticationError: Token authentication is enabled/);
  }, 600_000);
});

// A GET of argv[1], printing "PROBE <status>" or "PROBE refused" (what the kubelet's httpGet sees).
const PROBE_GET = `
import sys, urllib.request, urllib.error
try:
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(sys.argv[1], timeout=5) as r:
        print("PROBE", r.status, r.read()[:40])
except urllib.error.HTTPError as e:
    print("PROBE", e.code)
except OSError as e:
    print("PROBE refused" if "refused" in str(e) else "PROBE error " + str(e))
`;

// The generated command reaches the user's script as a plain expansion, as KubeRay's docs show it.
const OVERWRITE_SCRIPT = 'echo "starting Ray"; $KUBERAY_GEN_RAY_START_CMD';
const overwriteCluster: Obj = {
  apiVersion: 'ray.io/v1',
  kind: 'RayCluster',
  metadata: { name: 'kr-dns', namespace: NS, annotations: { 'ray.io/overwrite-container-cmd': 'true' } },
  spec: {
    rayVersion: '2.58.0',
    headGroupSpec: {
      rayStartParams: { 'num-cpus': '1' },
      template: {
        spec: {
          securityContext: { fsGroup: 100 },
          containers: [container('ray-head', { command: ['/bin/bash', '-c', '--'], args: [OVERWRITE_SCRIPT] })],
        },
      },
    },
    workerGroupSpecs: [
      {
        groupName: 'small',
        replicas: 1,
        rayStartParams: { 'num-cpus': '1' },
        template: {
          spec: {
            securityContext: { fsGroup: 100 },
            containers: [container('ray-worker', { command: ['/bin/bash', '-c', '--'], args: [OVERWRITE_SCRIPT] })],
          },
        },
      },
    ],
  },
};
const NODES_SCRIPT = `
import json, ray
ray.init()
print("NODES " + json.dumps(sorted(n["NodeManagerAddress"] for n in ray.nodes() if n["Alive"])))
`;

describe.runIf(real)('KubeRay-built pods in pod-dns mode with ray.io/overwrite-container-cmd', () => {
  const scratch = realRayScratch('kuberay-dns', say);
  let cluster: PodCluster | undefined;
  afterAll(() => cluster?.stop());

  it('KubeRay-built: a plain $KUBERAY_GEN_RAY_START_CMD advertises the pod DNS name; a cluster forms', async (ctx) => {
    scratch.keep(ctx);
    const { items } = renderItems([overwriteCluster], { mode: 'pod-dns' });
    const rc = items.find((i) => i.kind === 'RayCluster')!;
    const script = rc.spec.headGroupSpec.template.spec.containers[0].args[0] as string;
    say(`pod-dns: the head's script after ray-tls: ${script}`);
    expect(rc.spec.headGroupSpec.rayStartParams).toEqual({ 'num-cpus': '1' });
    const built = buildClusterPods({
      name: 'kr-dns',
      namespace: NS,
      annotations: rc.metadata.annotations,
      spec: rc.spec,
    });
    const generated = (built.head.spec.containers[0]!.env ?? []).find((e) => e.name === 'KUBERAY_GEN_RAY_START_CMD');
    say(`pod-dns: KUBERAY_GEN_RAY_START_CMD=${generated?.value}`);
    expect(built.head.spec.containers[0]!.args).toEqual([script]); // KubeRay runs the user's command
    const issued = secretDirs(issueCertificates(certManagerObjects(items), join(scratch.work, 'secrets')), NS);
    cluster = PodCluster.create({
      workDir: join(scratch.work, 'cluster'),
      namespace: NS,
      services: { 'kr-dns-head-svc': built.head.metadata.name },
      secrets: issued,
      rayVenv: scratch.venv,
      podDnsRecords: true,
    });
    const dns = (ip: string) => `${ip.replace(/\./g, '-')}.${NS}.pod.cluster.local`;
    const head = await cluster.startPod(built.head);
    await head.waitForLog('Ray runtime started', { timeoutMs: 150_000 });
    const worker = await cluster.startPod(built.workers[0]!);
    await worker.waitForLog('Ray runtime started', { timeoutMs: 150_000 });
    for (const p of [head, worker]) {
      say(`pod-dns ${p.name} (${p.ip}): ${logLines(p.logs(), /Local node IP/).join(' | ')}`);
      expect(p.logs()).toContain(`Local node IP: ${dns(p.ip)}`);
    }
    expect(worker.exitCode('wait-gcs-ready')).toBe(0);
    // KubeRay would set RAY_ADDRESS=127.0.0.1:6379 in the head, and Ray would swap that loopback address
    // for the pod IP, which the pod-dns certificate does not name; ray-tls sets `auto` first, so a driver
    // in the head finds the cluster by the name the head advertised. With the head's own env:
    expect(envValue(built.head.spec.containers[0]!, 'RAY_ADDRESS')).toBe('auto');
    const r = await head.exec(['python', '-c', NODES_SCRIPT], { timeoutMs: 120_000 });
    const line = r.stdout.split('\n').find((l) => l.startsWith('NODES '));
    expect(line, r.stderr).toBeDefined();
    say(`pod-dns: alive nodes seen from the head: ${line}`);
    expect(JSON.parse(line!.slice(6))).toEqual([dns(head.ip), dns(worker.ip)].sort());
  }, 600_000);
});
