// `ray-tls check` (src/cli/check.ts, the built binary dist/ray-tls.js) against real Ray 2.58
// gRPC servers in local pods (docs/design.md §5.12). The TLS head comes from the function's output for
// k8s/base (per-pod mode: its init container signs a leaf for the pod IP); the plaintext head
// from `kubectl kustomize k8s/overlays/dev` as is. `ray-tls check` runs inside the client pod
// (the emitted django-ray-worker template, command replaced by `sleep infinity`), as that
// pod's user (uid 1000) in its network namespace, with its mounted client certificate at
// /etc/ray/tls, i.e. what a monitoring job next to the Ray client would see.
//
//   (1) TLS head, GCS 6379 and Ray client 10001, --ca + client certificate: exit 0, the leaf's
//       expiry, mTLS on.
//   (1b) the same head by its Service name from the client pod's hosts file (SNI, DNS SAN).
//   (2) plaintext head, 6379 and 10001: exit 1, TLS is off.
//   (3) --ca of a foreign CA (openssl): exit 1, the chain does not verify.
//   (4) no --cert/--key against the TLS head: the head refuses a client without a certificate and
//       one with a throwaway self-signed certificate; without --cert mTLS is "unknown" (not proven).
//   (5) --json with the client certificate: mTLS "on" (both refused, the right one served).
//
// Run: npx vitest run --config test/ray/vitest.config.ts test/ray/check.e2e.test.ts (root;
// fails without pod support unless RAY_TLS_SKIP_REAL=1). About 1-2 minutes on 2 cores.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CheckReport } from '../../src/cli/check.js';
import { issueCertificates, secretDirs } from './issuer.js';
import { type Pod, PodCluster, podFromTemplate } from './podRunner.js';
import {
  certManagerObjects,
  clientPod,
  databaseSecret,
  kustomize,
  type Obj,
  REPO,
  realRayRuns,
  realRayScratch,
  render,
  serviceTargets,
  template,
} from './realRay.js';

const NS = 'django-ray';
const BIN = join(REPO, 'dist/ray-tls.js');
const say = (msg: string) => console.log(`[check] ${msg}`);
const TLS_DIR = '/etc/ray/tls'; // the client pod's mounted client certificate Secret
const CLIENT_CERT = ['--ca', `${TLS_DIR}/ca.crt`, '--cert', `${TLS_DIR}/tls.crt`, '--key', `${TLS_DIR}/tls.key`];

interface CheckRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

const real = realRayRuns('real-Ray check tests');

describe.runIf(real)('ray-tls check against real Ray', () => {
  const scratch = realRayScratch('check', say);
  let tlsHead: Pod;
  let plainHead: Pod;
  let client: Pod;
  const started = Date.now();

  /** `ray-tls check ARGS` in the client pod (its netns, mounts and user). */
  async function check(args: string[]): Promise<CheckRun> {
    const r = await client.exec(['node', BIN, 'check', ...args], { timeoutMs: 60_000 });
    if (r.timedOut) throw new Error(`ray-tls check ${args.join(' ')} timed out`);
    return { code: r.code, stdout: r.stdout, stderr: r.stderr };
  }

  /** The same, retried while the port is not listening yet (the Ray client server starts after `ray start` reports). */
  async function checkListening(args: string[]): Promise<CheckRun> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const r = await check(args);
      if (!/connection refused/.test(r.stdout) || Date.now() > deadline) return r;
      await new Promise((res) => setTimeout(res, 1000));
    }
  }

  const show = (label: string, r: CheckRun) => {
    say(`${label}: exit ${r.code}`);
    for (const line of (r.stdout + r.stderr).trimEnd().split('\n')) say(`  ${line}`);
  };

  beforeAll(async () => {
    execFileSync('node', [join(REPO, 'scripts/build.mjs')], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    const work = scratch.work;
    chmodSync(work, 0o755); // the foreign CA below is read by the client pod's uid 1000

    const { items } = render('k8s/base');
    const head = template(items, 'ray-head');
    const django = template(items, 'django-ray-worker');
    expect(head.spec.initContainers?.[0]?.name).toBe('ray-tls-init');
    const issued = secretDirs(issueCertificates(certManagerObjects(items), join(work, 'secrets')), NS);
    const database = databaseSecret(join(work, 'django-ray-database'));

    // The dev overlay without the function: the same head, no TLS anywhere.
    const plain = template(kustomize('dev'), 'ray-head') as Obj;
    expect(JSON.stringify(plain)).not.toContain('RAY_USE_TLS');

    const cluster = scratch.track(
      PodCluster.create({
        workDir: join(work, 'cluster'),
        namespace: NS,
        services: serviceTargets(items, { 'ray-head': head, 'django-ray-worker': django }),
        secrets: { ...issued, 'django-ray-database': database },
        rayVenv: scratch.venv,
      }),
    );
    tlsHead = await cluster.startPod(podFromTemplate('ray-head', head, NS));
    await tlsHead.waitForLog('Ray runtime started', { timeoutMs: 150_000 });
    plainHead = await cluster.startPod(podFromTemplate('ray-head-plain', plain, NS));
    await plainHead.waitForLog('Ray runtime started', { timeoutMs: 150_000 });
    client = await cluster.startPod(clientPod('django-ray-worker', django));
    say(
      `TLS head ${tlsHead.ip}, plaintext head ${plainHead.ip}, client pod ${client.ip}: up after ` +
        `${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
  }, 900_000);

  /** notAfter of the head's per-pod leaf (the init container's output), as YYYY-MM-DD and days left. */
  function leafExpiry(): { date: string; daysLeft: number } {
    const out = execFileSync(
      'openssl',
      ['x509', '-noout', '-enddate', '-in', join(tlsHead.volumeDir('ray-tls'), 'tls.crt')],
      { encoding: 'utf8' },
    );
    const notAfter = new Date(out.replace(/^notAfter=/, '').trim());
    return {
      date: notAfter.toISOString().slice(0, 10),
      daysLeft: Math.floor((notAfter.getTime() - Date.now()) / 86_400_000),
    };
  }

  for (const port of [6379, 10001])
    it(
      `(1) TLS head port ${port} with --ca and the client certificate: exit 0, the ` + `leaf expiry, mTLS on`,
      async (ctx) => {
        scratch.keep(ctx);
        const r = await checkListening([`${tlsHead.ip}:${port}`, ...CLIENT_CERT]);
        show(`(1) TLS head ${tlsHead.ip}:${port} --ca --cert --key`, r);
        expect(r.code, r.stdout + r.stderr).toBe(0);
        const { date, daysLeft } = leafExpiry();
        // The first expiry line is the leaf's (chain[0]), the one the init container signed for the pod IP.
        const expiry = r.stdout.split('\n').find((l) => l.includes('expires '));
        expect(expiry).toMatch(/expires \d{4}-\d\d-\d\d \(\d+ days left\)/);
        expect(expiry).toContain(`expires ${date} (`);
        expect(Number(/\((\d+) days left/.exec(expiry!)![1])).toBeGreaterThanOrEqual(daysLeft - 1);
        expect(r.stdout).toContain('mTLS on');
        expect(r.stdout).toContain(`certificate names ${tlsHead.ip}`);
        expect(r.stdout).toMatch(/TLS: TLSv1\.[23], ALPN h2/);
        expect(r.stdout).toMatch(/handshake with the client certificate .* succeeded/);
      },
    );

  it(
    "(1b) the TLS head by its Service name (the client pod's hosts file): the name is sent as SNI and found in the " +
      'leaf',
    async (ctx) => {
      scratch.keep(ctx);
      const r = await checkListening([`ray-head.${NS}.svc:10001`, ...CLIENT_CERT]);
      show(`(1b) TLS head ray-head.${NS}.svc:10001 --ca --cert --key`, r);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toContain(`certificate names ray-head.${NS}.svc`);
    },
  );

  for (const port of [6379, 10001])
    it(`(2) plaintext head port ${port}: exit 1, TLS is off`, async (ctx) => {
      scratch.keep(ctx);
      const r = await checkListening([`${plainHead.ip}:${port}`, ...CLIENT_CERT]);
      show(`(2) plaintext head ${plainHead.ip}:${port}`, r);
      expect(r.code).toBe(1);
      expect(r.stdout).toContain('TLS is off');
    });

  it('(3) --ca of a foreign CA: exit 1, the chain does not verify', async (ctx) => {
    scratch.keep(ctx);
    const foreign = join(scratch.work, 'foreign-ca');
    mkdirSync(foreign, { recursive: true });
    chmodSync(foreign, 0o755);
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        join(foreign, 'ca.key'),
        '-out',
        join(foreign, 'ca.crt'),
        '-subj',
        '/CN=foreign-ca',
        '-days',
        '30',
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    chmodSync(join(foreign, 'ca.crt'), 0o644);
    const r = await checkListening([
      `${tlsHead.ip}:6379`,
      '--ca',
      join(foreign, 'ca.crt'),
      '--cert',
      `${TLS_DIR}/tls.crt`,
      '--key',
      `${TLS_DIR}/tls.key`,
    ]);
    show(`(3) TLS head ${tlsHead.ip}:6379 --ca foreign-ca.crt`, r);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/FAIL .*does not verify against/);
  });

  it('(4) no --cert: the head refuses no certificate and a self-signed one; mTLS unknown', async (ctx) => {
    scratch.keep(ctx);
    for (const port of [6379, 10001]) {
      const human = await checkListening([`${tlsHead.ip}:${port}`, '--ca', `${TLS_DIR}/ca.crt`]);
      show(`(4) TLS head ${tlsHead.ip}:${port} --ca only`, human);
      // Refusing both is also what a server that refuses everyone does: only (1) proves mTLS.
      expect(human.stdout).toContain('mTLS unknown: the server refused a client without a certificate');
      const r = await check([`${tlsHead.ip}:${port}`, '--ca', `${TLS_DIR}/ca.crt`, '--json']);
      const report = JSON.parse(r.stdout) as CheckReport;
      say(
        `(4) --json ${port}: exit ${r.code}; tls.on ${report.tls.on}; mtls ${JSON.stringify(report.mtls)}; ` +
          `ok ${report.ok}`,
      );
      expect(report.tls.on).toBe(true);
      expect(report.mtls.state).toBe('unknown');
      expect(report.mtls.noCert.outcome).toBe('refused');
      expect(report.mtls.selfSigned?.outcome).toBe('refused');
    }
  });

  it('(5) the client certificate: --json says mTLS on, a self-signed client refused, --cert served', async (ctx) => {
    scratch.keep(ctx);
    for (const port of [6379, 10001]) {
      const r = await checkListening([`${tlsHead.ip}:${port}`, ...CLIENT_CERT, '--json']);
      const report = JSON.parse(r.stdout) as CheckReport;
      say(`(5) --json ${port}: exit ${r.code}; mtls ${JSON.stringify(report.mtls)}`);
      expect(report.mtls).toMatchObject({
        state: 'on',
        noCert: { outcome: 'refused' },
        selfSigned: { outcome: 'refused' },
        clientCert: { outcome: 'served', detail: 'the server spoke after the handshake' },
      });
      expect(r.code).toBe(0);
    }
  });
});
