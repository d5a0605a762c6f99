// The function's real output on real Ray (docs/design.md §5.1, §3, §5.12). Each scenario renders the
// shipped base (`kubectl kustomize k8s/base`) through run(), issues the emitted cert-manager
// Certificates exactly as emitted with the local stand-in (issuer.ts), and starts pods from the
// emitted pod templates with the local pod runner (podRunner.ts): init containers and `ray
// start` commands run verbatim, with the emitted env, volumes and securityContext (uid 1000,
// gid 100, fsGroup 100). Lifecycle hooks are not run; the head's exec probes are run once each,
// the way the kubelet judges them (exit 0 within timeoutSeconds).
//
//   per-pod (default): head + worker sign their own leaves in the emitted init container; a
//     client pod from the django-ray-worker template runs a task on each node and moves a
//     50 MB object over ray://. Negatives on the same head: (a) plaintext client, (b) client
//     certificate from another CA, (d) expired client certificate.
//   shared (c): the one certificate names the Services but not the pod IP, so the head's own
//     raylet cannot reach its GCS: not even a single-node cluster starts, and the worker fails.
//   pod-dns: nodes advertise <pod-ip-dashed>.django-ray.pod.cluster.local under the one
//     wildcard certificate; a node advertising a name outside the wildcard is marked dead.
//     The head's probes, which the function aims at the pod DNS name, pass.
//
// Run: npx vitest run --config test/ray/vitest.config.ts test/ray/tls.e2e.test.ts (root only;
// fails otherwise, or skips loudly with RAY_TLS_SKIP_REAL=1). About 3 minutes on 2 cores.
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { run } from '../../src/function/run.js';
import { CLIENT_SCRIPT, MB50 } from './clientScript.js';
import { certificateText, issueCertificates, secretDirs, verifySecret } from './issuer.js';
import { type ExecResult, type Pod, PodCluster, type PodManifest, podFromTemplate } from './podRunner.js';
import {
  certManagerObjects,
  clientFailure,
  clientPod,
  databaseSecret,
  execClient,
  logLines,
  realRayRuns,
  realRayScratch,
  serviceTargets,
  sessionLogs,
  startNode,
  template,
  waitFor,
} from './realRay.js';

type Obj = Record<string, any>;

const REPO = resolve(fileURLToPath(import.meta.url), '../../..');
const NS = 'django-ray';
// Fails the file when this machine cannot run pods, unless RAY_TLS_SKIP_REAL=1 (then a loud skip).
const real = realRayRuns('real-Ray tests');
const say = (msg: string) => console.log(`[ray tls] ${msg}`);

// ---------------------------------------------------------------------------------------
// The function's output

/** `kubectl kustomize k8s/base` wrapped into a ResourceList (as scripts/start.mjs does), through run(). */
function renderBase(spec?: Obj): { items: Obj[]; results: Obj[] } {
  const stream = execFileSync('kubectl', ['kustomize', join(REPO, 'k8s/base')], { encoding: 'utf8' });
  const list: Obj = {
    apiVersion: 'config.kubernetes.io/v1',
    kind: 'ResourceList',
    items: parseAllDocuments(stream).map((d) => d.toJS()),
  };
  if (spec) list.functionConfig = { apiVersion: 'ray-tls.io/v1alpha1', kind: 'RayTLS', metadata: { name: 't' }, spec };
  const out = run(stringify(list, { lineWidth: 0, indentSeq: false }));
  if (out.exitCode !== 0) throw new Error(`ray-tls failed (exit ${out.exitCode}):\n${out.stderr.join('\n')}`);
  const parsed = parse(out.stdout) as Obj;
  return { items: parsed.items as Obj[], results: (parsed.results ?? []) as Obj[] };
}

// ---------------------------------------------------------------------------------------
// Pods

/**
 * Starts a pod whose Secret `secret` is `dir` (e.g. a rogue or expired client certificate) instead of the cluster's.
 */
async function startPodWithSecret(
  cluster: PodCluster,
  manifest: PodManifest,
  secret: string,
  dir: string,
): Promise<Pod> {
  const original = cluster.secrets[secret];
  cluster.addSecret(secret, dir);
  try {
    return await cluster.startPod(manifest);
  } finally {
    if (original) cluster.addSecret(secret, original);
  }
}

interface ClientResult {
  nodes: string[];
  ran: Record<string, [string, string]>;
  moved: [number, string];
}

/** The Django-Ray client's tasks and 50 MB object; execClient retries only ray#63202 (realRay.ts). */
async function runClient(client: Pod, head: Pod, src: string, dst: string, label: string): Promise<ClientResult> {
  const r = await execClient(client, head, ['python', '-c', CLIENT_SCRIPT, src, dst], say, label);
  const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  expect(line, clientFailure(label, r)).toBeDefined();
  say(`${label}: ${line}`);
  expect(r.code).toBe(0);
  return JSON.parse(line!.slice('RESULT '.length)) as ClientResult;
}

// A negative client gives up after 3 attempts of 2 s instead of 5+10+15 s: Ray's own client
// settings, set on the negative clients only.
const SHORT_CLIENT_TIMEOUT = { RAY_CLIENT_INITIAL_CONNECTION_TIMEOUT_S: '2', RAY_CLIENT_MAX_CONNECTION_TIMEOUT_S: '2' };

const CONNECT = ['python', '-c', 'import ray; ray.init(); print("CONNECTED", len(ray.nodes()))'];

/** A client that is expected to fail: no retries. */
async function tryConnect(
  client: Pod,
  env: Record<string, string> = SHORT_CLIENT_TIMEOUT,
): Promise<ExecResult & { seconds: number; error: string }> {
  const t0 = Date.now();
  const r = await client.exec(CONNECT, { env, timeoutMs: 120_000 });
  return { ...r, seconds: (Date.now() - t0) / 1000, error: logLines(r.stderr, /Error/).pop() ?? '' };
}

/** The SAN line of `openssl x509 -text` output. */
function sans(text: string): string {
  return /Subject Alternative Name:.*\n\s*(.*)/.exec(text)?.[1] ?? '(none)';
}

/**
 * Runs a container's exec probe in the pod as the kubelet would: success is exit 0 within the
 * probe's timeoutSeconds.
 */
async function runProbe(
  pod: Pod,
  container: Obj,
  name: 'readinessProbe' | 'livenessProbe',
): Promise<ExecResult & { command: string; outcome: string }> {
  const probe = container[name] as Obj;
  const argv = probe.exec.command as string[];
  const timeoutSeconds = Number(probe.timeoutSeconds ?? 1);
  const r = await pod.exec(argv, { container: container.name as string, timeoutMs: timeoutSeconds * 1000 });
  const outcome = r.timedOut ? `no answer within timeoutSeconds ${timeoutSeconds} (failure)` : `exit ${r.code}`;
  return { ...r, code: r.timedOut ? null : r.code, command: argv.join(' '), outcome };
}

// ---------------------------------------------------------------------------------------

describe.runIf(real)("the function's output on real Ray", () => {
  const scratch = realRayScratch('tls', say);
  const { keep } = scratch;

  function createCluster(
    scenario: string,
    items: Obj[],
    pods: Record<string, Obj>,
    issued: Record<string, string>,
    extra: { podDnsRecords?: boolean } = {},
  ): PodCluster {
    return PodCluster.create({
      workDir: join(scratch.work, scenario, 'cluster'),
      namespace: NS,
      services: serviceTargets(items, pods),
      secrets: { ...issued, 'django-ray-database': databaseSecret(join(scratch.work, 'django-ray-database')) },
      rayVenv: scratch.venv,
      ...extra,
    });
  }

  it('per-pod (default): init containers sign per-pod leaves; 2 nodes run tasks and move 50 MB for a ray:// client; ' +
    'wrong clients fail', async (ctx) => {
    keep(ctx);
    const started = Date.now();
    const { items } = renderBase();
    const head = template(items, 'ray-head');
    const worker = template(items, 'ray-worker');
    const django = template(items, 'django-ray-worker');
    expect(head.spec.initContainers?.[0]?.name).toBe('ray-tls-init');
    expect(worker.spec.initContainers?.[0]?.name).toBe('ray-tls-init');

    // The emitted cert-manager objects, exactly as emitted: CA chain and client Certificate.
    const issued = secretDirs(
      issueCertificates(certManagerObjects(items), join(scratch.work, 'per-pod', 'secrets')),
      NS,
    );
    expect(Object.keys(issued).sort()).toEqual(['django-ray-worker-ray-tls-client', 'ray-tls-ca']);
    expect(verifySecret(issued['django-ray-worker-ray-tls-client']!, 'sslclient').ok).toBe(true);

    const cluster = createCluster(
      'per-pod',
      items,
      { 'ray-head': head, 'ray-worker-1': worker, 'django-ray-worker': django },
      issued,
    );
    try {
      const headPod = await startNode(cluster, 'ray-head', head);
      const workerPod = await startNode(cluster, 'ray-worker-1', worker);
      say(`per-pod: cluster up after ${((Date.now() - started) / 1000).toFixed(1)} s`);
      for (const p of [headPod, workerPod]) {
        say(`${p.name} (${p.ip}) ray-tls-init: ${logLines(p.logs('ray-tls-init'), /^ray-tls:|: OK$/).join(' | ')}`);
        say(`${p.name}: ${logLines(p.logs(), /Local node IP|Ray runtime started/).join(' | ')}`);
        expect(p.logs()).toContain(`Local node IP: ${p.ip}`);
        // What the Ray container (uid 1000) sees in the emptyDir the init container filled.
        const tls = p.volumeDir('ray-tls');
        const key = statSync(join(tls, 'tls.key'));
        const leaf = certificateText(join(tls, 'tls.crt'));
        say(`${p.name}: tls.key mode ${(key.mode & 0o777).toString(8)} uid ${key.uid}; leaf SANs: ${sans(leaf)}`);
        expect(key.mode & 0o777).toBe(0o600);
        expect(key.uid).toBe(1000);
        expect(leaf).toContain(`IP Address:${p.ip}`);
        expect(readdirSync(tls).sort()).toEqual(['ca.crt', 'tls.crt', 'tls.key']);
      }
      // The head's emitted probes (Ray health checks over TLS at 127.0.0.1) pass. The worker's
      // probes query the dashboard agent (ray[default]), which ray[client] does not have.
      for (const name of ['readinessProbe', 'livenessProbe'] as const) {
        const probe = await runProbe(headPod, head.spec.containers[0], name);
        say(`ray-head ${name} \`${probe.command}\`: ${probe.outcome}`);
        expect(probe.code, probe.stderr).toBe(0);
      }

      const client = await cluster.startPod(clientPod('django-ray-worker', django));
      const clientKey = statSync(join(client.volumeDir('ray-tls'), 'tls.key'));
      say(
        `django-ray-worker: /etc/ray/tls/tls.key (Secret django-ray-worker-ray-tls-client) mode ` +
          `${(clientKey.mode & 0o777).toString(8)} gid ${clientKey.gid}; client cert: ` +
          `${/Subject: (.*)/.exec(certificateText(join(client.volumeDir('ray-tls'), 'tls.crt')))?.[1]}, SANs ` +
          `${sans(certificateText(join(client.volumeDir('ray-tls'), 'tls.crt')))}`,
      );
      const clientLog = () => Object.values(sessionLogs(headPod, /^ray_client_server\.err$/))[0] ?? '';

      // (a) The Django worker pod without TLS.
      let mark = clientLog().length;
      const plain = await tryConnect(client, { ...SHORT_CLIENT_TIMEOUT, RAY_USE_TLS: '0' });
      const plainHead = logLines(clientLog().slice(mark), /Handshake failed/);
      say(
        `(a) plaintext client (RAY_USE_TLS=0): exit ${plain.code} after ${plain.seconds.toFixed(1)} s: ${plain.error}`,
      );
      say(`(a) head's Ray client server: ${plainHead[0]}`);
      expect(plain.stdout).not.toContain('CONNECTED');
      expect(plain.stderr).toMatch(/ConnectionError: ray client connection timeout/);
      expect(plainHead.join('\n')).toMatch(/WRONG_VERSION_NUMBER/);

      // (b) Certificates from another, unrelated CA: the emitted cert-manager objects issued a
      // second time make a second self-signed CA and a client certificate signed by it.
      const rogue = secretDirs(
        issueCertificates(certManagerObjects(items), join(scratch.work, 'per-pod', 'rogue-secrets')),
        NS,
      )['django-ray-worker-ray-tls-client']!;
      expect(verifySecret(rogue, 'sslclient').ok).toBe(true); // a valid client certificate, of the wrong CA
      expect(readFileSync(join(rogue, 'ca.crt'), 'utf8')).not.toBe(
        readFileSync(join(issued['ray-tls-ca']!, 'ca.crt'), 'utf8'),
      );
      // (b1) The whole Secret of the other CA mounted instead: the client rejects the head.
      const rogueClient = await startPodWithSecret(
        cluster,
        clientPod('rogue-client', django),
        'django-ray-worker-ray-tls-client',
        rogue,
      );
      const other = await tryConnect(rogueClient);
      say(`(b1) client Secret from another CA: exit ${other.code} after ${other.seconds.toFixed(1)} s: ${other.error}`);
      say(`(b1) client's gRPC: ${logLines(other.stderr, /Handshake failed/)[0]}`);
      expect(other.stdout).not.toContain('CONNECTED');
      expect(other.stderr).toMatch(/ConnectionError: ray client connection timeout/);
      expect(other.stderr).toMatch(/Handshake failed .*CERTIFICATE_VERIFY_FAILED/);
      // (b2) The other CA's key and certificate, but this cluster's ca.crt: the head rejects the client.
      const mixed = join(scratch.work, 'per-pod', 'rogue-leaf-right-ca');
      mkdirSync(mixed, { recursive: true });
      for (const f of ['tls.crt', 'tls.key']) writeFileSync(join(mixed, f), readFileSync(join(rogue, f)));
      writeFileSync(join(mixed, 'ca.crt'), readFileSync(join(issued['django-ray-worker-ray-tls-client']!, 'ca.crt')));
      const mixedClient = await startPodWithSecret(
        cluster,
        clientPod('rogue-leaf-client', django),
        'django-ray-worker-ray-tls-client',
        mixed,
      );
      mark = clientLog().length;
      const foreign = await tryConnect(mixedClient);
      const foreignHead = logLines(clientLog().slice(mark), /Handshake failed/);
      say(
        `(b2) client certificate from another CA, right ca.crt: exit ${foreign.code} after ` +
          `${foreign.seconds.toFixed(1)} s: ${foreign.error}`,
      );
      say(`(b2) head's Ray client server: ${foreignHead[0]}`);
      expect(foreign.stdout).not.toContain('CONNECTED');
      expect(foreign.stderr).toMatch(/ConnectionError: ray client connection timeout/);
      expect(foreignHead.join('\n')).toMatch(/CERTIFICATE_VERIFY_FAILED/);

      // (d) An expired client certificate from the right CA (the emitted client Certificate,
      // issued with notAfter in the past by this cluster's CA).
      const clientCertificate = certManagerObjects(items).filter(
        (o) => o.kind === 'Issuer' || o.metadata.name === 'django-ray-worker-ray-tls-client',
      );
      const expired = secretDirs(
        issueCertificates(clientCertificate, join(scratch.work, 'per-pod', 'expired-secrets'), {
          expired: ['django-ray-worker-ray-tls-client'],
          secrets: { [`${NS}/ray-tls-ca`]: issued['ray-tls-ca']! },
        }),
        NS,
      )['django-ray-worker-ray-tls-client']!;
      const expiredCheck = verifySecret(expired);
      say(`(d) expired client certificate: openssl verify: ${logLines(expiredCheck.output, /error/)[0]}`);
      expect(expiredCheck.output).toMatch(/certificate has expired/);
      const expiredClient = await startPodWithSecret(
        cluster,
        clientPod('expired-client', django),
        'django-ray-worker-ray-tls-client',
        expired,
      );
      mark = clientLog().length;
      const late = await tryConnect(expiredClient);
      const lateHead = logLines(clientLog().slice(mark), /Handshake failed/);
      say(`(d) expired client certificate: exit ${late.code} after ${late.seconds.toFixed(1)} s: ${late.error}`);
      say(`(d) head's Ray client server: ${lateHead[0]}`);
      expect(late.stdout).not.toContain('CONNECTED');
      expect(late.stderr).toMatch(/ConnectionError: ray client connection timeout/);
      expect(lateHead.join('\n')).toMatch(/CERTIFICATE_VERIFY_FAILED: certificate has expired/);

      // The real client, after the negatives on the same head: a task on each node, 50 MB moved.
      const result = await runClient(client, headPod, headPod.ip, workerPod.ip, 'per-pod ray:// client');
      expect(result.nodes).toEqual([headPod.ip, workerPod.ip].sort());
      expect(result.ran[headPod.ip]).toEqual(['ray-head', headPod.ip]);
      expect(result.ran[workerPod.ip]).toEqual(['ray-worker-1', workerPod.ip]);
      expect(result.moved).toEqual([MB50, 'ray-worker-1']);
      say(`per-pod: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    } finally {
      await cluster.stop();
    }
  }, 600_000);

  it('shared: the one certificate does not name the pod IP, so not even the head comes up (why the function ' +
    'warns)', async (ctx) => {
    keep(ctx);
    const started = Date.now();
    const { items, results } = renderBase({ mode: 'shared' });
    const warnings = results.filter((r) => r.severity === 'warning' && /shared mode/.test(String(r.message)));
    say(`shared: function warnings: ${warnings.map((w) => `${w.resourceRef?.name}: ${w.message}`).join(' || ')}`);
    expect(warnings.map((w) => w.resourceRef?.name).sort()).toEqual(['ray-head', 'ray-worker']);
    const head = template(items, 'ray-head');
    const worker = template(items, 'ray-worker');
    const issued = secretDirs(
      issueCertificates(certManagerObjects(items), join(scratch.work, 'shared', 'secrets')),
      NS,
    );
    const shared = certificateText(join(issued['ray-tls-certs']!, 'tls.crt'));
    say(`shared: ray-tls-certs SANs: ${sans(shared)}`);

    const cluster = createCluster('shared', items, { 'ray-head': head, 'ray-worker-1': worker }, issued);
    try {
      // The head alone first: a single-node cluster.
      const headPod = await cluster.startPod(podFromTemplate('ray-head', head, NS));
      expect(shared).not.toContain(headPod.ip);
      // The head's raylet dials its own GCS at the pod IP, which the certificate does not name.
      const noGcs = await headPod.waitForLog(`Failed to connect to GCS at address ${headPod.ip}:6379`, {
        timeoutMs: 60_000,
      });
      // The worker reaches GCS through the Service name (in the certificate), but the head never
      // finished starting: `ray start` on the worker gives up.
      const workerPod = await cluster.startPod(podFromTemplate('ray-worker-1', worker, NS));
      const workerFails = await workerPod.waitForLog(/Could not read 'session_name' from GCS/, { timeoutMs: 150_000 });
      const gcs = Object.values(sessionLogs(headPod, /^gcs_server\.err$/))[0] ?? '';
      const noMatch = logLines(gcs, /No match found for server name/);
      say(`shared: ray-head (${headPod.ip}): ${noGcs}`);
      say(`shared: ray-head: ${logLines(headPod.logs(), /Failed to get cluster ID/)[0]}`);
      say(`shared: ray-head gcs_server.err (${noMatch.length} lines): ${noMatch[0]}`);
      say(`shared: ray-worker-1 (${workerPod.ip}): ${workerFails}`);
      expect(noMatch[0]).toContain(`No match found for server name: ${headPod.ip}.`);
      expect(headPod.logs()).not.toContain('Ray runtime started');
      expect(workerPod.logs()).not.toContain('Ray runtime started');
      say(`shared: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    } finally {
      await cluster.stop();
    }
  }, 600_000);

  it('pod-dns: nodes advertise <pod-ip>.django-ray.pod.cluster.local under one wildcard certificate; a name outside ' +
    'it is marked dead', async (ctx) => {
    keep(ctx);
    const started = Date.now();
    const { items } = renderBase({ mode: 'pod-dns' });
    const head = template(items, 'ray-head');
    const worker = template(items, 'ray-worker');
    const django = template(items, 'django-ray-worker');
    for (const tpl of [head, worker]) {
      expect(tpl.spec.initContainers ?? []).toEqual([]);
      expect(tpl.spec.containers[0].command.slice(0, 2)).toEqual(['sh', '-c']);
      expect(tpl.spec.containers[0].command[2]).toContain('--node-ip-address=');
    }
    const issued = secretDirs(
      issueCertificates(certManagerObjects(items), join(scratch.work, 'pod-dns', 'secrets')),
      NS,
    );
    expect(Object.keys(issued).sort()).toEqual(['django-ray-worker-ray-tls-client', 'ray-tls-ca', 'ray-tls-nodes']);
    say(`pod-dns: ray-tls-nodes SANs: ${sans(certificateText(join(issued['ray-tls-nodes']!, 'tls.crt')))}`);

    // podDnsRecords: every pod resolves <ip-dashed>.django-ray.pod.cluster.local, as with
    // CoreDNS `pods insecure` (the runner writes those names into each pod's /etc/hosts).
    const cluster = createCluster(
      'pod-dns',
      items,
      { 'ray-head': head, 'ray-worker-1': worker, 'django-ray-worker': django },
      issued,
      { podDnsRecords: true },
    );
    const dns = (ip: string) => `${ip.replace(/\./g, '-')}.${NS}.pod.cluster.local`;
    try {
      const headPod = await startNode(cluster, 'ray-head', head);
      const workerPod = await startNode(cluster, 'ray-worker-1', worker);
      say(`pod-dns: cluster up after ${((Date.now() - started) / 1000).toFixed(1)} s`);
      for (const p of [headPod, workerPod]) {
        say(`${p.name} (${p.ip}): ${logLines(p.logs(), /Local node IP|Ray runtime started/).join(' | ')}`);
        expect(p.logs()).toContain(`Local node IP: ${dns(p.ip)}`);
        const key = statSync(join(p.volumeDir('ray-tls'), 'tls.key'));
        say(
          `${p.name}: /etc/ray/tls/tls.key (Secret ray-tls-nodes) mode ${(key.mode & 0o777).toString(8)} gid ` +
            `${key.gid}`,
        );
      }
      // The head's probes: `ray health-check --address=127.0.0.1:6379` would meet the pod IP
      // (Ray swaps loopback for the node IP it detects), which the wildcard certificate does
      // not name; the function aims them at the pod DNS name. The kubelet's view: exit 0
      // within timeoutSeconds.
      for (const name of ['readinessProbe', 'livenessProbe'] as const) {
        const probe = await runProbe(headPod, head.spec.containers[0], name);
        say(`ray-head ${name} \`${probe.command}\`: ${probe.outcome}`);
        expect(probe.command).toContain('.pod.cluster.local:6379');
        expect(probe.code, probe.stderr).toBe(0);
      }
      const client = await cluster.startPod(clientPod('django-ray-worker', django));
      const result = await runClient(client, headPod, dns(headPod.ip), dns(workerPod.ip), 'pod-dns ray:// client');
      expect(result.nodes).toEqual([dns(headPod.ip), dns(workerPod.ip)].sort());
      expect(result.ran[dns(headPod.ip)]).toEqual(['ray-head', dns(headPod.ip)]);
      expect(result.ran[dns(workerPod.ip)]).toEqual(['ray-worker-1', dns(workerPod.ip)]);
      expect(result.moved).toEqual([MB50, 'ray-worker-1']);

      // Negative: a third node from the worker template, with the same Secret, whose `ray start`
      // advertises a name outside *.django-ray.pod.cluster.local. Its name is added to every
      // pod's /etc/hosts (like a DNS record elsewhere); its command waits for that entry.
      const badName = `${cluster.ipOf('ray-bad').replace(/\./g, '-')}.other.test`;
      const badPod = podFromTemplate('ray-bad', worker, NS);
      const bad = badPod.spec.containers[0]!;
      const rayStart = [...(bad.args ?? [])]; // the emitted wrapper's "$@": ray start --address=ray-head:6379 --block
      expect(rayStart.slice(0, 2)).toEqual(['ray', 'start']);
      bad.command = [
        'sh',
        '-c',
        `until grep -q '[[:space:]]${badName}$' /etc/hosts; do sleep 0.1; done; exec "$@" ` +
          `--node-ip-address=${badName}`,
        'bad',
      ];
      bad.args = rayStart;
      const badStarted = cluster.startPod(badPod);
      const badIp = cluster.ipOf('ray-bad');
      const hostsOf = (netns: string) => join('/etc/netns', netns, 'hosts');
      const pods = [headPod, workerPod, client];
      // The bad pod's netns (and hosts file) exists once startPod has run its synchronous part.
      const ownHosts = await waitFor(
        () =>
          readdirSync('/etc/netns')
            .map((n) => join('/etc/netns', n, 'hosts'))
            .find((f) => f.includes(`${cluster.id}-ray-bad/`) && existsSync(f)),
        10_000,
      );
      for (const f of [...pods.map((p) => hostsOf(p.netns)), ownHosts]) appendFileSync(f, `${badIp}\t${badName}\n`);
      const badRunning = await badStarted;
      await badRunning.waitForLog('Ray runtime started', { timeoutMs: 150_000 });
      say(`ray-bad (${badIp}): ${logLines(badRunning.logs(), /Local node IP|Ray runtime started/).join(' | ')}`);
      expect(badRunning.logs()).toContain(`Local node IP: ${badName}`);
      // GCS health-checks the node at the name it advertises, and the certificate does not cover it.
      const gcsErr = () => Object.values(sessionLogs(headPod, /^gcs_server\.(err|out)$/)).join('\n');
      await waitFor(
        () =>
          /Node is dead because the health check failed|GCS failed to check the health of this node/.test(gcsErr())
            ? true
            : undefined,
        150_000,
      );
      const peer = logLines(
        gcsErr(),
        new RegExp(`Peer name ${badName.replace(/\./g, '\\.')} is not in peer certificate`),
      );
      const dead = logLines(
        gcsErr(),
        /Node is dead because the health check failed|GCS failed to check the health of this node/,
      );
      say(`ray-bad: head gcs_server: ${peer[0]}`);
      say(`ray-bad: head gcs_server: ${dead[0]}`);
      expect(peer.length).toBeGreaterThan(0);
      // The driver below runs in the head pod (as `kubectl exec` would), not over ray://.
      const nodes = await headPod.exec(['python', '-c', NODES_SCRIPT, badName], { timeoutMs: 120_000 });
      const line = nodes.stdout.split('\n').find((l) => l.startsWith('NODES '));
      expect(line, nodes.stderr).toBeDefined();
      say(`ray-bad: ${line}`);
      const state = JSON.parse(line!.slice('NODES '.length)) as { alive: Record<string, boolean>; pinned: string };
      expect(state.alive).toEqual({ [dns(headPod.ip)]: true, [dns(workerPod.ip)]: true, [badName]: false });
      expect(state.pinned).toMatch(/unschedulable|dead|TaskUnschedulableError/i);
      say(`pod-dns: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    } finally {
      await cluster.stop();
    }
  }, 600_000);
});

// Alive flags by node address, and what happens to a task pinned (hard) to the dead node argv[1].
const NODES_SCRIPT = String.raw`
import json, sys, ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy as Pin
ray.init(address="auto", logging_level="ERROR")
nodes = ray.nodes()
alive = {n["NodeManagerAddress"]: n["Alive"] for n in nodes}
dead = [n["NodeID"] for n in nodes if n["NodeManagerAddress"] == sys.argv[1]][0]
@ray.remote(num_cpus=0)
def f():
    return "ran"
try:
    pinned = ray.get(f.options(scheduling_strategy=Pin(dead, soft=False)).remote(), timeout=30)
except Exception as e:
    pinned = type(e).__name__ + ": " + str(e).splitlines()[0]
print("NODES " + json.dumps({"alive": alive, "pinned": pinned}))
`;
