// ca.issuerRef on real Ray 2.58 in local pods (design.md §3.10, §7): a corporate PKI laid out as
// cert-manager does (issuer.ts corporatePki: root -> issuing CA -> ray-tls's namespace CA; every
// Secret's ca.crt is the root, tls.crt the certificate then the intermediates). k8s/base is
// rendered through run() with `ca: {issuerRef: {name: corp-issuing, kind: ClusterIssuer}}`.
//   - head and worker (per-pod init containers) and the Django-Ray client (its trust init
//     container) trust the namespace CA alone, and form the cluster: tasks on both nodes, 50 MB
//     moved; `ray-tls check` in the client pod verifies the head against that CA alone;
//   - a node whose leaf comes from a SIBLING namespace CA of the same root (what another team's
//     Ray, or anyone the corporate PKI ever signed, holds) is refused by the head and never joins,
//     although its chain verifies against the root that pods trusted before;
//   - a client with a sibling-signed client certificate is refused.
//
// Run: flock /tmp/ray-tls-real.lock npx vitest run --config test/ray/vitest.config.ts
// test/ray/issuerRef.e2e.test.ts (root; fails when the machine cannot run pods, unless
// RAY_TLS_SKIP_REAL=1). About 3-5 minutes.
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_SCRIPT, MB50 } from './clientScript.js';
import { corporatePki, issueCertificates, secretDirs, siblingCa } from './issuer.js';
import { type Pod, PodCluster, podFromTemplate } from './podRunner.js';
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
  REPO,
  realRayRuns,
  realRayScratch,
  render,
  serviceTargets,
  sessionLogs,
  template,
} from './realRay.js';

// Fails the file when this machine cannot run pods, unless RAY_TLS_SKIP_REAL=1 (then a loud skip).
const real = realRayRuns('real-Ray issuerRef tests');
const say = (msg: string) => console.log(`[issuerRef] ${msg}`);
const BIN = join(REPO, 'dist/ray-tls.js');
const ISSUER_REF = { ca: { issuerRef: { name: 'corp-issuing', kind: 'ClusterIssuer' } } };
// A refused client gives up after 3 attempts of 2 s instead of 5+10+15 s (Ray's own settings).
const SHORT_CLIENT_TIMEOUT = { RAY_CLIENT_INITIAL_CONNECTION_TIMEOUT_S: '2', RAY_CLIENT_MAX_CONNECTION_TIMEOUT_S: '2' };
const CONNECT = ['python', '-c', 'import ray; ray.init(); print("CONNECTED", len(ray.nodes()))'];
// Alive flag by node address, from a driver in the head pod (as `kubectl exec` would run it).
const NODES_SCRIPT = String.raw`
import json, ray
ray.init(address="auto", logging_level="ERROR")
print("NODES " + json.dumps({n["NodeManagerAddress"]: n["Alive"] for n in ray.nodes()}))
`;
// BoringSSL refuses a peer without an alert and logs this (design.md §3.10).
const REFUSAL = /CERTIFICATE_VERIFY_FAILED/;

/** `openssl verify` of a Secret dir's leaf with its tls.crt as the untrusted chain, against `trusted`. */
function verifies(trusted: string, secretDir: string, partial = false): { ok: boolean; out: string } {
  const chain = join(secretDir, 'tls.crt');
  const args = ['verify', ...(partial ? ['-partial_chain'] : []), '-CAfile', trusted, '-untrusted', chain, chain];
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}`.trim().split('\n').pop() ?? '' };
}

describe.runIf(real)('ca.issuerRef on real Ray: every pod trusts its namespace CA, not the corporate root', () => {
  const scratch = realRayScratch('issuerRef', say);
  const { keep } = scratch;
  let cluster: PodCluster | undefined;
  let items: Obj[] = [];
  let ours: Record<string, string> = {};
  let theirs: Record<string, string> = {};
  let headPod: Pod | undefined;
  let workerPod: Pod | undefined;
  let client: Pod | undefined;
  /** Every Ray session log of the head, by file, to take what a step adds (`since`). */
  const headLogs = (): Record<string, string> => sessionLogs(need(headPod, 'the head'), /\.(out|err|log)$/);
  const refusalsSince = (before: Record<string, string>): string[] =>
    Object.entries(headLogs()).flatMap(([f, text]) =>
      logLines(text.slice(before[f]?.length ?? 0), REFUSAL).map((l) => `${f}: ${l}`),
    );
  /** Alive flag by node address, as the head's GCS sees it. */
  const nodes = async (): Promise<Record<string, boolean>> => {
    const r = await need(headPod, 'the head').exec(['python', '-c', NODES_SCRIPT], { timeoutMs: 120_000 });
    const line = r.stdout.split('\n').find((l) => l.startsWith('NODES '));
    if (!line) throw new Error(`ray.nodes() in the head failed (exit ${r.code}): ${r.stderr}`);
    return JSON.parse(line.slice('NODES '.length));
  };

  beforeAll(() => {
    execFileSync('node', [join(REPO, 'scripts/build.mjs')], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    ({ items } = render('k8s/base', ISSUER_REF));
    const issued = issueCertificates(
      [
        ...corporatePki(),
        ...certManagerObjects(items),
        ...siblingCa('other-team', { nodes: ['sibling-node'], clients: ['sibling-client'] }),
      ],
      join(scratch.work, 'secrets'),
      { clusterResourceNamespace: 'cert-manager' },
    );
    ours = secretDirs(issued, NS);
    theirs = secretDirs(issued, 'other-team');
    const db = databaseSecret(join(scratch.work, 'django-ray-database'));
    const pods = {
      'ray-head': template(items, 'ray-head'),
      'ray-worker-1': template(items, 'ray-worker'),
      'django-ray-worker': template(items, 'django-ray-worker'),
    };
    cluster = PodCluster.create({
      workDir: join(scratch.work, 'cluster'),
      namespace: NS,
      services: serviceTargets(items, pods),
      // The sibling's Secrets live in another namespace; here they are only named apart.
      secrets: { ...ours, 'sibling-ca': theirs['sibling-ca']!, 'sibling-client': theirs['sibling-client']! },
      rayVenv: scratch.venv,
    });
    cluster.addSecret('django-ray-database', db);
  }, 900_000);
  afterAll(() => cluster?.stop());

  it('issuerRef: the PKI is laid out as cert-manager does, and the root would admit the sibling', (ctx) => {
    keep(ctx);
    const root = join(ours['ray-tls-ca']!, 'ca.crt');
    const subjects = (dir: string) =>
      execFileSync('sh', ['-c', `openssl crl2pkcs7 -nocrl -certfile "$0" | openssl pkcs7 -print_certs -noout`, dir], {
        encoding: 'utf8',
      })
        .split('\n')
        .filter((l) => l.startsWith('subject='))
        .join(' | ');
    say(`ray-tls-ca Secret tls.crt: ${subjects(join(ours['ray-tls-ca']!, 'tls.crt'))}`);
    say(`ray-tls-ca Secret ca.crt: ${subjects(root)}`);
    say(`client Secret ca.crt: ${subjects(join(ours['django-ray-worker-ray-tls-client']!, 'ca.crt'))}`);
    expect(subjects(root)).toBe('subject=CN = corp-root');
    const viaRoot = verifies(root, theirs['sibling-node']!);
    say(`sibling-signed node leaf against the root (what pods trusted before): ${viaRoot.out}`);
    expect(viaRoot.ok).toBe(true);
  });

  it('issuerRef: head, worker and the Django-Ray client form the cluster, trusting the namespace CA', async (ctx) => {
    keep(ctx);
    const c = cluster!;
    for (const [name, tpl] of [
      ['ray-head', template(items, 'ray-head')],
      ['ray-worker-1', template(items, 'ray-worker')],
    ] as const) {
      const pod = await c.startPod(podFromTemplate(name, tpl, NS));
      await pod.waitForLog('Ray runtime started', { timeoutMs: 150_000 });
      for (const line of logLines(pod.logs('ray-tls-init'), /^ray-tls: (issued|trusting)/))
        say(`${name} ray-tls-init: ${line}`);
      expect(pod.logs('ray-tls-init')).toContain(
        'ray-tls: trusting 1 CA certificate(s), first subject=CN = ray-tls CA (django-ray)',
      );
      if (name === 'ray-head') headPod = pod;
      else workerPod = pod;
    }
    const h = need(headPod, 'the head');
    const w = need(workerPod, 'the worker');
    client = await c.startPod(clientPod('django-ray-worker', template(items, 'django-ray-worker')));
    say(`django-ray-worker ray-tls-trust: ${client.logs('ray-tls-trust').trim()}`);
    expect(client.logs('ray-tls-trust')).toContain('ray-tls: trusting 1 CA certificate(s)');
    const r = await execClient(client, h, ['python', '-c', CLIENT_SCRIPT, h.ip, w.ip], say, 'client');
    const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
    expect(line, clientFailure('the client', r)).toBeDefined();
    say(`client: ${line}`);
    const result = JSON.parse(line!.slice('RESULT '.length));
    expect(result.nodes).toEqual([h.ip, w.ip].sort());
    expect(result.ran[w.ip]).toEqual(['ray-worker-1', w.ip]);
    expect(result.moved).toEqual([MB50, 'ray-worker-1']);

    // ray-tls check in the client pod, with the client's files: the chain verifies against the namespace CA alone.
    const tlsDir = '/etc/ray/tls';
    const files = ['--ca', `${tlsDir}/ca.crt`, '--cert', `${tlsDir}/tls.crt`, '--key', `${tlsDir}/tls.key`];
    const check = await client.exec(['node', BIN, 'check', `${h.ip}:6379`, ...files], { timeoutMs: 60_000 });
    for (const l of logLines(check.stdout, /verif|mTLS|expires/)) say(`ray-tls check ${h.ip}:6379: ${l}`);
    expect(check.code, check.stdout + check.stderr).toBe(0);
    expect(check.stdout).toMatch(/chain verifies against \/etc\/ray\/tls\/ca\.crt \(3 certificates\)/);
  }, 900_000);

  const siblingNode =
    'issuerRef: a node whose leaf a sibling namespace CA of the same root signed is refused, never joins';
  it(siblingNode, async (ctx) => {
    keep(ctx);
    const h = need(headPod, 'the head');
    const w = need(workerPod, 'the worker');
    // The emitted worker, but its init container signs with the sibling CA (its CA Secret), and it
    // trusts our namespace CA too (ca.trust-style): only the head's own check can keep it out.
    const rogue = podFromTemplate('ray-worker-sibling', template(items, 'ray-worker'), NS);
    const spec = rogue.spec as Obj;
    spec.volumes.find((v: Obj) => v.name === 'ray-tls-ca').secret.secretName = 'sibling-ca';
    spec.volumes.push({
      name: 'ray-tls-trust',
      projected: { sources: [{ secret: { name: 'ray-tls-ca', items: [{ key: 'tls.crt', path: 'ray-tls-ca.crt' }] } }] },
    });
    const init = spec.initContainers.find((c: Obj) => c.name === 'ray-tls-init');
    init.env.push({ name: 'CA_TRUST_DIR', value: '/etc/ray/tls-trust' });
    init.volumeMounts.push({ name: 'ray-tls-trust', mountPath: '/etc/ray/tls-trust', readOnly: true });
    const before = headLogs();
    const pod = await cluster!.startPod(rogue as never);
    for (const line of logLines(pod.logs('ray-tls-init'), /^ray-tls: (issued|trusting)/))
      say(`ray-worker-sibling ray-tls-init: ${line}`);
    const leaf = join(pod.volumeDir('ray-tls'), 'tls.crt');
    const issuer = execFileSync('openssl', ['x509', '-noout', '-issuer', '-in', leaf], { encoding: 'utf8' }).trim();
    const viaRoot = verifies(join(ours['ray-tls-ca']!, 'ca.crt'), pod.volumeDir('ray-tls'));
    say(
      `ray-worker-sibling leaf ${issuer}; against the root (what pods trusted before): ${viaRoot.ok ? 'OK' : 'fails'}`,
    );
    expect(issuer).toContain('sibling CA (other-team)');
    expect(viaRoot.ok).toBe(true);
    // Ray's own timeouts: give the raylet time to register (a good node joins within seconds).
    await new Promise((r) => setTimeout(r, 45_000));
    const seen = await nodes();
    say(`head's node list 45 s after the sibling-signed node started: ${JSON.stringify(seen)}`);
    expect(seen[h.ip]).toBe(true);
    expect(seen[w.ip]).toBe(true);
    expect(Object.keys(seen)).not.toContain(pod.ip);
    const refused = refusalsSince(before);
    say(`head on the sibling-signed node: ${refused.length} refusal lines, e.g. ${refused[0] ?? 'none'}`);
    expect(refused.length).toBeGreaterThan(0);
    const own = logLines(pod.logs(), /Ray runtime started|Failed to connect|Timed out|GCS/).slice(0, 2);
    if (own.length) say(`sibling-signed node's own output: ${own.join(' || ')}`);
    // It keeps retrying: gone, so that the head's refusals below are the client's alone.
    await cluster!.deletePod(pod.name);
  }, 600_000);

  it('issuerRef: a client with a sibling-signed client certificate is refused', async (ctx) => {
    keep(ctx);
    const before = headLogs();
    const rogue = clientPod('sibling-client', template(items, 'django-ray-worker'));
    (rogue.spec as Obj).volumes.find((v: Obj) => v.name === 'ray-tls-secret').secret.secretName = 'sibling-client';
    const pod = await cluster!.startPod(rogue);
    const t0 = Date.now();
    const r = await pod.exec(CONNECT, { env: SHORT_CLIENT_TIMEOUT, timeoutMs: 120_000 });
    const error = logLines(r.stderr, /Error|error:/).pop() ?? '';
    say(
      `client with a sibling-signed certificate: exit ${r.code} after ` +
        `${((Date.now() - t0) / 1000).toFixed(1)} s: ${error}`,
    );
    expect(r.stdout).not.toContain('CONNECTED');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/ConnectionError: ray client connection timeout/);
    const refused = refusalsSince(before);
    say(`head on the sibling-signed client: ${refused.length} refusal lines, e.g. ${refused[0] ?? 'none'}`);
    expect(refused.length).toBeGreaterThan(0);
    // The same pod with the namespace's own client Secret connects (only the certificate differs).
    const good = await client!.exec(CONNECT, { env: SHORT_CLIENT_TIMEOUT, timeoutMs: 120_000 });
    say(`the same connect from the client with its own certificate: ${good.stdout.trim()}`);
    expect(good.stdout).toContain('CONNECTED');
  }, 600_000);
});
