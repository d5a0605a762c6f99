// Runs the emitted init container's script with the machine's real openssl,
// against CA Secrets laid out as cert-manager writes them, and checks the leaf.
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { INIT_SCRIPT } from '../src/tls/initScript.js';
import { envOf, type Obj, podSpec, render } from './support/emitted.js';

const openssl = (...args: string[]) =>
  execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** A CA Secret directory as cert-manager writes it: ca.crt (root), tls.crt (the issuing CA), tls.key. */
function caSecret(dir: string, intermediate: boolean): string {
  mkdirSync(dir, { recursive: true });
  const ext = join(dir, 'ca.ext');
  writeFileSync(ext, 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign,digitalSignature\n');
  openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    join(dir, 'root.key'),
    '-out',
    join(dir, 'ca.crt'),
    '-subj',
    '/CN=test root',
    '-days',
    '30',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  );
  if (!intermediate) {
    writeFileSync(join(dir, 'tls.crt'), readFileSync(join(dir, 'ca.crt')));
    writeFileSync(join(dir, 'tls.key'), readFileSync(join(dir, 'root.key')));
    return dir;
  }
  openssl(
    'req',
    '-new',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    join(dir, 'tls.key'),
    '-out',
    join(dir, 'int.csr'),
    '-subj',
    '/CN=test intermediate',
  );
  openssl(
    'x509',
    '-req',
    '-in',
    join(dir, 'int.csr'),
    '-CA',
    join(dir, 'ca.crt'),
    '-CAkey',
    join(dir, 'root.key'),
    '-set_serial',
    '2',
    '-days',
    '30',
    '-extfile',
    ext,
    '-out',
    join(dir, 'tls.crt'),
  );
  return dir;
}

const input = (config: string) => `apiVersion: config.kubernetes.io/v1
kind: ResourceList
items:
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: ray-head, namespace: django-ray}
  spec:
    selector: {matchLabels: {app: ray-head}}
    template:
      metadata: {labels: {app: ray-head}}
      spec:
        containers:
        - {name: ray-head, image: "rayproject/ray:2.58.0", args: [ray, start, --head, --block]}
- apiVersion: v1
  kind: Service
  metadata: {name: ray-head, namespace: django-ray}
  spec: {selector: {app: ray-head}}
${config}`;

/** Runs the emitted init container with its env, the downward API and the volumes supplied as directories. */
function runInit(init: Obj, caDir: string, outDir: string) {
  const env = {
    ...envOf(init, {
      'status.podIP': '10.244.7.2',
      'metadata.name': 'ray-head-7d9f',
      'metadata.namespace': 'django-ray',
    }),
    CERT_DIR: outDir,
    CA_DIR: caDir,
    PATH: process.env.PATH ?? '',
  };
  expect(init.command.slice(0, 2)).toEqual(['sh', '-c']);
  return spawnSync(init.command[0], init.command.slice(1), { env, encoding: 'utf8' });
}

/** A self-signed CA Secret directory (ca.crt = tls.crt) with explicit validity dates, as `openssl ca` writes them. */
function datedCa(dir: string, startdate: string, enddate: string): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'ca.cnf'),
    `[ca]\ndefault_ca = d\n[d]\ndatabase = ${dir}/index.txt\nserial = ${dir}/serial\nnew_certs_dir = ` +
      `${dir}\ndefault_md = sha256\npolicy = p\nunique_subject = no\n[p]\ncommonName = supplied\n`,
  );
  writeFileSync(join(dir, 'index.txt'), '');
  writeFileSync(join(dir, 'ext.cnf'), 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n');
  openssl(
    'req',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    join(dir, 'tls.key'),
    '-out',
    join(dir, 'ca.csr'),
    '-subj',
    '/CN=dated root',
  );
  openssl(
    'ca',
    '-batch',
    '-selfsign',
    '-config',
    join(dir, 'ca.cnf'),
    '-keyfile',
    join(dir, 'tls.key'),
    '-in',
    join(dir, 'ca.csr'),
    '-rand_serial',
    '-notext',
    '-startdate',
    startdate,
    '-enddate',
    enddate,
    '-extfile',
    join(dir, 'ext.cnf'),
    '-out',
    join(dir, 'tls.crt'),
  );
  writeFileSync(join(dir, 'ca.crt'), readFileSync(join(dir, 'tls.crt')));
  return dir;
}

/** Seconds since 1970 as the time strings openssl ca takes (GeneralizedTime). */
const asn1 = (seconds: number) => new Date(seconds * 1000).toISOString().replace(/[-:T]|\.\d+/g, '');
const nowSeconds = () => Math.floor(Date.now() / 1000);

/** notBefore and notAfter of a PEM certificate (the first in the file), in seconds since 1970. */
function validity(pem: string): { notBefore: number; notAfter: number } {
  const out = openssl('x509', '-in', pem, '-noout', '-startdate', '-enddate');
  const at = (key: string) => Date.parse(new RegExp(`${key}=(.*)`).exec(out)![1]) / 1000;
  const v = { notBefore: at('notBefore'), notAfter: at('notAfter') };
  expect(Number.isNaN(v.notBefore) || Number.isNaN(v.notAfter), out).toBe(false);
  return v;
}

/** The first certificate of a PEM file (the leaf of a chain), written beside its directory. */
function firstCert(path: string): string {
  const pem = readFileSync(path, 'utf8');
  const leaf = join(dirname(dirname(path)), `${basename(dirname(path))}-${basename(path)}.leaf`);
  writeFileSync(leaf, pem.slice(0, pem.indexOf('-----END CERTIFICATE-----') + 26));
  return leaf;
}

/**
 * The shells to run the script under: the system sh, and busybox sh with busybox's own tools first on PATH (as on
 * Alpine).
 */
const which = (cmd: string) => execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim();
const opensslDir = dirname(which('openssl'));
const hasBusybox = spawnSync('sh', ['-c', 'command -v busybox'], { stdio: 'ignore' }).status === 0;
let busyboxBin = '';
const shells: { name: string; cmd: () => string[]; path: () => string }[] = [
  { name: 'sh', cmd: () => ['sh'], path: () => process.env.PATH ?? '' },
  ...(hasBusybox
    ? [
        {
          name: 'busybox sh',
          cmd: () => [join(busyboxBin, 'busybox'), 'sh'],
          path: () => `${busyboxBin}:${opensslDir}`,
        },
      ]
    : []),
];
if (!hasBusybox)
  console.warn('busybox is not installed (apt-get install busybox): the init script runs under the system sh only');

type Shell = (typeof shells)[number];
interface RunOptions {
  cwd?: string;
  home?: string;
  uid?: number;
}

/**
 * Runs INIT_SCRIPT directly with the env the init container gets (ECDSA keys for speed; a
 * CERT_DAYS shorter than the test CAs' 30 days). Asynchronous, so that vitest's worker stays
 * responsive while openssl works.
 */
function runScript(
  shell: Shell,
  env: Record<string, string>,
  options: RunOptions = {},
): Promise<{ status: number; stdout: string; stderr: string }> {
  const full = {
    POD_IP: '10.244.7.2',
    POD_NAME: 'ray-head-7d9f',
    POD_NAMESPACE: 'django-ray',
    CERT_SERVICES: 'ray-head',
    CERT_CLUSTER_DOMAIN: 'cluster.local',
    CERT_KEY_ALGORITHM: 'ECDSA',
    CERT_KEY_SIZE: '256',
    CERT_DAYS: '7',
    PATH: shell.path(),
    ...(options.home !== undefined && { HOME: options.home }),
    ...env,
  };
  const [cmd, ...args] = shell.cmd();
  const argv =
    options.uid === undefined
      ? [cmd, ...args, '-c', INIT_SCRIPT]
      : [
          which('setpriv'),
          `--reuid=${options.uid}`,
          `--regid=${options.uid}`,
          '--clear-groups',
          cmd,
          ...args,
          '-c',
          INIT_SCRIPT,
        ];
  return new Promise((resolve) => {
    execFile(argv[0], argv.slice(1), { env: full, encoding: 'utf8', cwd: options.cwd }, (error, stdout, stderr) => {
      resolve({ status: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

/** The SANs of a certificate, as openssl prints them. */
function sansOf(pem: string): string[] {
  const text = openssl('x509', '-in', pem, '-noout', '-text');
  return /X509v3 Subject Alternative Name:\s*\n\s*(.*)/.exec(text)![1].split(', ');
}

describe('the per-pod init script', () => {
  let work: string;
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'ray-tls-init-'));
  });

  it('is shellcheck-clean POSIX sh', () => {
    const r = spawnSync('shellcheck', ['-s', 'sh', '-'], { input: INIT_SCRIPT, encoding: 'utf8' });
    expect(r.error, 'shellcheck is missing: npm test installs it (scripts/ensure-deps.mjs)').toBeUndefined();
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  for (const [name, config, intermediate] of [
    ['RSA, self-signed CA', '', false],
    [
      'ECDSA, intermediate CA',
      'functionConfig: {apiVersion: ray-tls.io/v1alpha1, kind: RayTLS, metadata: {name: t}, spec: {privateKey: ' +
        '{algorithm: ECDSA, size: 256}}}',
      true,
    ],
  ] as const) {
    it(`issues a leaf for the pod IP that verifies against the CA (${name})`, () => {
      const head = render(input(config)).find((i) => i.metadata.name === 'ray-head' && i.kind === 'Deployment')!;
      const init = podSpec(head).initContainers[0];
      expect(init.name).toBe('ray-tls-init');
      const caDir = caSecret(join(work, `ca-${intermediate}`), intermediate);
      const outDir = join(work, `out-${intermediate}`);
      mkdirSync(outDir);
      const r = runInit(init, caDir, outDir);
      expect(r.stderr + r.stdout).toContain('ray-tls: issued a certificate for IP:10.244.7.2');
      expect(r.status).toBe(0);

      // tls.crt is the chain: leaf, then the issuing CA; ca.crt is that CA alone (under a root: the
      // intermediate, not the root), which Ray takes as its trust anchor (a partial chain).
      expect(readFileSync(join(outDir, 'ca.crt'), 'utf8')).toBe(readFileSync(join(caDir, 'tls.crt'), 'utf8'));
      expect(readFileSync(join(outDir, 'ca.crt'), 'utf8') === readFileSync(join(caDir, 'ca.crt'), 'utf8')).toBe(
        !intermediate,
      );
      const chain = readFileSync(join(outDir, 'tls.crt'), 'utf8');
      expect(chain.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
      const leaf = join(work, `leaf-${intermediate}.crt`);
      writeFileSync(leaf, chain.slice(0, chain.indexOf('-----END CERTIFICATE-----') + 26));
      expect(
        openssl(
          'verify',
          '-partial_chain',
          '-CAfile',
          join(outDir, 'ca.crt'),
          '-untrusted',
          join(caDir, 'tls.crt'),
          '-purpose',
          'sslserver',
          leaf,
        ),
      ).toContain(': OK');
      expect(
        openssl(
          'verify',
          '-partial_chain',
          '-CAfile',
          join(outDir, 'ca.crt'),
          '-untrusted',
          join(caDir, 'tls.crt'),
          '-purpose',
          'sslclient',
          leaf,
        ),
      ).toContain(': OK');

      const text = openssl('x509', '-in', leaf, '-noout', '-text');
      const sans = /X509v3 Subject Alternative Name:\s*\n\s*(.*)/.exec(text)![1].split(', ');
      expect(sans).toEqual([
        'IP Address:10.244.7.2',
        'IP Address:127.0.0.1',
        'DNS:localhost',
        'DNS:ray-head',
        'DNS:ray-head.django-ray',
        'DNS:ray-head.django-ray.svc',
        'DNS:ray-head.django-ray.svc.cluster.local',
      ]);
      expect(text).toMatch(/TLS Web Server Authentication, TLS Web Client Authentication/);
      expect(text).toMatch(/CA:FALSE/);
      expect(text).toContain(intermediate ? 'Public Key Algorithm: id-ecPublicKey' : 'Public-Key: (4096 bit)');

      // The key is for the owner only; the work files are gone.
      expect(statSync(join(outDir, 'tls.key')).mode & 0o777).toBe(0o600);
      expect(() => statSync(join(outDir, '.issue'))).toThrow();
    });
  }

  it('fails loudly when the CA Secret does not hold a matching key pair', () => {
    const head = render(input('')).find((i) => i.kind === 'Deployment')!;
    const good = caSecret(join(work, 'mismatch'), false);
    const other = caSecret(join(work, 'other'), false);
    writeFileSync(join(good, 'tls.key'), readFileSync(join(other, 'tls.key')));
    const outDir = join(work, 'out-mismatch');
    mkdirSync(outDir);
    const r = runInit(podSpec(head).initContainers[0], good, outDir);
    expect(r.status).not.toBe(0);
    expect(() => statSync(join(outDir, 'tls.crt'))).toThrow();
  });
});

describe.each(shells)('the per-pod init script under $name', (shell) => {
  let work: string;
  let ca: string;
  let n = 0;
  /** A fresh empty CERT_DIR. */
  const outDir = () => {
    const dir = join(work, `out-${n++}`);
    mkdirSync(dir);
    return dir;
  };
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'ray-tls-init-'));
    chmodSync(work, 0o755); // the unprivileged run below must reach it
    if (hasBusybox && !busyboxBin) {
      busyboxBin = join(work, 'busybox-bin');
      mkdirSync(busyboxBin);
      execFileSync('sh', [
        '-c',
        'ln -s "$(command -v busybox)" "$1/busybox" && "$1/busybox" --install -s "$1"',
        'sh',
        busyboxBin,
      ]);
      expect(readdirSync(busyboxBin)).toEqual(
        expect.arrayContaining(['date', 'cat', 'cp', 'mv', 'printf', 'mkdir', 'rm', 'chmod']),
      );
    }
    ca = caSecret(join(work, 'ca'), true);
  });

  it('issues a chain that verifies, with the extensions and modes of before', async () => {
    const out = outDir();
    const r = await runScript(shell, { CERT_DIR: out, CA_DIR: ca });
    expect(r.stderr + r.stdout).toMatch(
      new RegExp(
        String.raw`ray-tls: issued a certificate for IP:10\.244\.7\.2,.* valid until .* GMT \(\d+ hours.*\); ` +
          'the pod must be restarted before then',
      ),
    );
    expect(r.status).toBe(0);
    const leaf = firstCert(join(out, 'tls.crt'));
    expect(
      openssl(
        'verify',
        '-partial_chain',
        '-CAfile',
        join(out, 'ca.crt'),
        '-untrusted',
        join(ca, 'tls.crt'),
        '-purpose',
        'sslserver',
        leaf,
      ),
    ).toContain(': OK');
    const text = openssl('x509', '-in', leaf, '-noout', '-text');
    expect(text).toMatch(/Basic Constraints: critical\s+CA:FALSE/);
    expect(text).toMatch(/Key Usage: critical\s+Digital Signature\n/);
    expect(text).toMatch(/TLS Web Server Authentication, TLS Web Client Authentication/);
    expect(text).toContain('Signature Algorithm: sha256WithRSAEncryption');
    expect(openssl('x509', '-in', leaf, '-noout', '-subject').trim()).toBe('subject=CN = ray-head-7d9f');
    expect(readdirSync(out).sort()).toEqual(['ca.crt', 'tls.crt', 'tls.key']);
    expect(statSync(join(out, 'tls.key')).mode & 0o777).toBe(0o600);
    expect(statSync(join(out, 'tls.crt')).mode & 0o777).toBe(0o644);
    expect(statSync(join(out, 'ca.crt')).mode & 0o777).toBe(0o644);
  });

  it('re-runs over an existing CERT_DIR (a pod restart) with a new key and a new random serial', async () => {
    const out = outDir();
    expect((await runScript(shell, { CERT_DIR: out, CA_DIR: ca })).status).toBe(0);
    const first = {
      key: readFileSync(join(out, 'tls.key'), 'utf8'),
      serial: openssl('x509', '-in', join(out, 'tls.crt'), '-noout', '-serial'),
    };
    const r = await runScript(shell, { CERT_DIR: out, CA_DIR: ca });
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(join(out, 'tls.key'), 'utf8')).not.toBe(first.key);
    expect(openssl('x509', '-in', join(out, 'tls.crt'), '-noout', '-serial')).not.toBe(first.serial);
    expect(readdirSync(out).sort()).toEqual(['ca.crt', 'tls.crt', 'tls.key']);
    expect(statSync(join(out, 'tls.key')).mode & 0o777).toBe(0o600);
  });

  it('never lets a leaf outlive its CA: a CA with 20 days left caps a 365-day leaf at its own notAfter', async () => {
    const shortCa = join(work, `ca-20d-${n}`);
    mkdirSync(shortCa);
    openssl(
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      join(shortCa, 'tls.key'),
      '-out',
      join(shortCa, 'tls.crt'),
      '-subj',
      '/CN=short root',
      '-days',
      '20',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    );
    writeFileSync(join(shortCa, 'ca.crt'), readFileSync(join(shortCa, 'tls.crt')));
    const out = outDir();
    const r = await runScript(shell, { CERT_DIR: out, CA_DIR: shortCa, CERT_DAYS: '365' });
    expect(r.status, r.stderr).toBe(0);
    const caEnd = validity(join(shortCa, 'tls.crt')).notAfter;
    const leafEnd = validity(join(out, 'tls.crt')).notAfter;
    expect(leafEnd).toBeLessThanOrEqual(caEnd);
    expect(caEnd - leafEnd).toBeLessThanOrEqual(60);
    expect(r.stdout).toMatch(/\((479|480) hours, the end of its CA's lifetime\)/);
  });

  it('never lets a leaf outlive the root either: an intermediate with 30 days under a root with 10', async () => {
    const dir = datedCa(join(work, `ca-root-10d-${n}`), asn1(nowSeconds() - 86400), asn1(nowSeconds() + 10 * 86400));
    // The dated root is tls.crt/tls.key so far: make it ca.crt alone, and an intermediate the issuer.
    writeFileSync(join(dir, 'root.key'), readFileSync(join(dir, 'tls.key')));
    openssl(
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      join(dir, 'tls.key'),
      '-out',
      join(dir, 'int.csr'),
      '-subj',
      '/CN=long intermediate',
    );
    openssl(
      'x509',
      '-req',
      '-in',
      join(dir, 'int.csr'),
      '-CA',
      join(dir, 'ca.crt'),
      '-CAkey',
      join(dir, 'root.key'),
      '-set_serial',
      '3',
      '-days',
      '30',
      '-extfile',
      join(dir, 'ext.cnf'),
      '-out',
      join(dir, 'tls.crt'),
    );
    const out = outDir();
    const r = await runScript(shell, { CERT_DIR: out, CA_DIR: dir, CERT_DAYS: '20' });
    expect(r.status, r.stderr).toBe(0);
    const rootEnd = validity(join(dir, 'ca.crt')).notAfter;
    const leafEnd = validity(join(out, 'tls.crt')).notAfter;
    expect(validity(join(dir, 'tls.crt')).notAfter).toBeGreaterThan(rootEnd + 86400);
    expect(leafEnd).toBeLessThanOrEqual(rootEnd);
    expect(rootEnd - leafEnd).toBeLessThanOrEqual(60);
  });

  it('gives a leaf CERT_DAYS when the CA outlives it, CERT_HOURS when that is set', async () => {
    const longCa = datedCa(join(work, `ca-long-${n}`), asn1(nowSeconds() - 3600), asn1(nowSeconds() + 90 * 86400));
    for (const [env, seconds] of [
      [{ CERT_DAYS: '2' }, 2 * 86400],
      [{ CERT_DAYS: '2', CERT_HOURS: '3' }, 3 * 3600],
    ] as const) {
      const out = outDir();
      const before = nowSeconds();
      const r = await runScript(shell, { CERT_DIR: out, CA_DIR: longCa, ...env });
      expect(r.status, r.stderr).toBe(0);
      const leafEnd = validity(join(out, 'tls.crt')).notAfter;
      expect(leafEnd).toBeGreaterThanOrEqual(before + seconds - 1);
      expect(leafEnd).toBeLessThanOrEqual(nowSeconds() + seconds);
      expect(r.stdout).toContain(`(${seconds / 3600} hours)`);
    }
  });

  it('starts the leaf 5 minutes back, for clock skew between nodes', async () => {
    const out = outDir();
    expect((await runScript(shell, { CERT_DIR: out, CA_DIR: ca })).status).toBe(0);
    const back = nowSeconds() - validity(join(out, 'tls.crt')).notBefore;
    expect(back).toBeGreaterThanOrEqual(4 * 60);
    expect(back).toBeLessThanOrEqual(6 * 60);
  });

  it('truncates the common name to 64 characters for a long pod name; the SANs are unchanged', async () => {
    const name = `ray-worker-${'x'.repeat(100)}`.slice(0, 100);
    expect(name).toHaveLength(100);
    const out = outDir();
    const r = await runScript(shell, { CERT_DIR: out, CA_DIR: ca, POD_NAME: name });
    expect(r.status, r.stderr).toBe(0);
    const leaf = firstCert(join(out, 'tls.crt'));
    expect(openssl('x509', '-in', leaf, '-noout', '-subject').trim()).toBe(`subject=CN = ${name.slice(0, 64)}`);
    expect(sansOf(leaf)).toEqual([
      'IP Address:10.244.7.2',
      'IP Address:127.0.0.1',
      'DNS:localhost',
      'DNS:ray-head',
      'DNS:ray-head.django-ray',
      'DNS:ray-head.django-ray.svc',
      'DNS:ray-head.django-ray.svc.cluster.local',
    ]);
  });

  it('adds the KubeRay head Service of CERT_RAY_CLUSTER to the SANs, once', async () => {
    for (const services of ['ray-head', 'raycluster-x-head-svc ray-head', '']) {
      const out = outDir();
      const r = await runScript(shell, {
        CERT_DIR: out,
        CA_DIR: ca,
        CERT_SERVICES: services,
        CERT_RAY_CLUSTER: 'raycluster-x',
      });
      expect(r.status, r.stderr).toBe(0);
      const sans = sansOf(firstCert(join(out, 'tls.crt')));
      for (const dns of [
        'raycluster-x-head-svc',
        'raycluster-x-head-svc.django-ray',
        'raycluster-x-head-svc.django-ray.svc',
        'raycluster-x-head-svc.django-ray.svc.cluster.local',
      ]) {
        expect(
          sans.filter((s) => s === `DNS:${dns}`),
          services,
        ).toHaveLength(1);
      }
      expect(sans.includes('DNS:ray-head.django-ray.svc.cluster.local')).toBe(services.includes('ray-head'));
    }
  });

  // Values that would add SANs of another type, an extension or a config line if they reached
  // openssl's config: the script refuses each, and writes no certificate.
  it.each([
    ['CERT_SERVICES', 'x,IP:10.96.0.1,DNS:*.svc.cluster.local,URI:spiffe://evil', 'the Service name'],
    ['CERT_SERVICES', 'ray-head\nsubjectAltName = DNS:evil.example', 'the Service name'],
    ['CERT_SERVICES', '*', 'the Service name'],
    ['CERT_SERVICES', 'ray-head -evil', 'the Service name'],
    ['CERT_RAY_CLUSTER', 'rc,DNS:evil.example', 'CERT_RAY_CLUSTER'],
    ['POD_NAMESPACE', 'ns,DNS:evil.example', 'POD_NAMESPACE'],
    ['CERT_CLUSTER_DOMAIN', 'cluster.local,URI:spiffe://evil', 'CERT_CLUSTER_DOMAIN'],
    ['POD_IP', '10.244.7.2,DNS:evil.example', 'POD_IP'],
    ['POD_NAME', 'ray-head\n[dn]\nCN = evil', 'POD_NAME'],
    ['POD_NAME', 'ray-head\nbasicConstraints = critical,CA:TRUE', 'POD_NAME'],
  ])('refuses %s %j: not a DNS name or IP address, no certificate written', async (name, value, said) => {
    const out = outDir();
    const r = await runScript(shell, { CERT_DIR: out, CA_DIR: ca, [name]: value });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(`ray-tls: refusing ${said} '`);
    expect(r.stderr).toMatch(/in the certificate: not an? (DNS name|IP address)\n$/);
    expect(existsSync(join(out, 'tls.crt'))).toBe(false);
    expect(existsSync(join(out, 'tls.key'))).toBe(false);
  });

  it('splits CERT_SERVICES on spaces and never expands a glob against the files in its directory', async () => {
    const out = outDir();
    const r = await runScript(shell, { CERT_DIR: out, CA_DIR: ca, CERT_SERVICES: 'ray-head  ray-client' });
    expect(r.status, r.stderr).toBe(0);
    const dns = sansOf(firstCert(join(out, 'tls.crt'))).filter((s) => s.startsWith('DNS:') && !s.includes('.'));
    expect(dns).toEqual(['DNS:localhost', 'DNS:ray-head', 'DNS:ray-client']);
  });

  it('bundles the extra CAs of CA_TRUST_DIR into ca.crt (once each), for a planned CA rotation', async () => {
    const second = caSecret(join(work, `ca-second-${n}`), false);
    const trust = join(work, `trust-${n}`);
    mkdirSync(trust);
    // The projected volume brings each trusted CA Secret's tls.crt.
    writeFileSync(join(trust, 'trust-0.crt'), readFileSync(join(ca, 'tls.crt'))); // the current CA again: skipped
    writeFileSync(join(trust, 'trust-1.crt'), readFileSync(join(second, 'tls.crt')));
    writeFileSync(join(trust, 'notes.txt'), 'not a certificate');
    const out = outDir();
    const r = await runScript(shell, { CERT_DIR: out, CA_DIR: ca, CA_TRUST_DIR: trust });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('ray-tls: trusting 2 CA certificate(s), first subject=CN = test intermediate');
    const bundle = readFileSync(join(out, 'ca.crt'), 'utf8');
    expect(bundle.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    expect(bundle.startsWith(readFileSync(join(ca, 'tls.crt'), 'utf8'))).toBe(true);

    // Our leaf, and a leaf from the second CA, both verify against the bundle (as Ray: partial chains).
    const verify = (trusted: string, leaf: string) =>
      spawnSync('openssl', ['verify', '-partial_chain', '-CAfile', trusted, leaf], { encoding: 'utf8' }).status;
    expect(verify(join(out, 'ca.crt'), firstCert(join(out, 'tls.crt')))).toBe(0);
    const otherOut = outDir();
    expect((await runScript(shell, { CERT_DIR: otherOut, CA_DIR: second })).status).toBe(0);
    expect(verify(join(out, 'ca.crt'), firstCert(join(otherOut, 'tls.crt')))).toBe(0);
    // Without the bundle it would not.
    expect(verify(join(ca, 'tls.crt'), firstCert(join(otherOut, 'tls.crt')))).not.toBe(0);

    // A CA_TRUST_DIR that is not mounted is skipped.
    const missing = outDir();
    expect(
      (await runScript(shell, { CERT_DIR: missing, CA_DIR: ca, CA_TRUST_DIR: join(work, 'no-such-dir') })).status,
    ).toBe(0);
    expect(readFileSync(join(missing, 'ca.crt'), 'utf8')).toBe(readFileSync(join(ca, 'tls.crt'), 'utf8'));
  });

  it('trusts the CA itself, not the root above it: a leaf of a sibling intermediate fails', async () => {
    // A sibling CA under the same root (another namespace's ray-tls CA under one corporate issuer).
    const sibling = join(work, `sibling-${n}`);
    mkdirSync(sibling);
    writeFileSync(join(sibling, 'ca.ext'), 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign\n');
    const f = (name: string) => join(sibling, name);
    openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', f('tls.key'));
    openssl('req', '-new', '-key', f('tls.key'), '-subj', '/CN=sibling intermediate', '-out', f('ca.csr'));
    openssl(
      ...['x509', '-req', '-in', f('ca.csr'), '-CA', join(ca, 'ca.crt'), '-CAkey', join(ca, 'root.key')],
      ...['-set_serial', '3', '-days', '30', '-extfile', f('ca.ext'), '-out', f('tls.crt')],
    );
    writeFileSync(f('ca.crt'), readFileSync(join(ca, 'ca.crt')));
    const ours = outDir();
    const theirs = outDir();
    expect((await runScript(shell, { CERT_DIR: ours, CA_DIR: ca })).status).toBe(0);
    const r = await runScript(shell, { CERT_DIR: theirs, CA_DIR: sibling });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('ray-tls: trusting 1 CA certificate(s), first subject=CN = sibling intermediate');
    // What each pod presents (leaf + its CA) against what the other trusts, as Ray's gRPC checks it.
    const verify = (trusted: string, chain: string) =>
      spawnSync('openssl', ['verify', '-partial_chain', '-CAfile', trusted, '-untrusted', chain, firstCert(chain)], {
        encoding: 'utf8',
      });
    expect(verify(join(ours, 'ca.crt'), join(ours, 'tls.crt')).status).toBe(0);
    const refused = verify(join(ours, 'ca.crt'), join(theirs, 'tls.crt'));
    expect(refused.status).not.toBe(0);
    expect(refused.stdout + refused.stderr).toMatch(/unable to get (local )?issuer certificate/);
    expect(verify(join(theirs, 'ca.crt'), join(ours, 'tls.crt')).status).not.toBe(0);
    // Trusting the root, as before, would have let the sibling in.
    expect(verify(join(ca, 'ca.crt'), join(theirs, 'tls.crt')).status).toBe(0);
  });

  for (const [what, from, to, message] of [
    ['has expired', -30 * 86400, -86400, /ray-tls: the CA in .* expired on .*: renew it/],
    ['expires within the hour', -30 * 86400, 30 * 60, /ray-tls: the CA in .* expires on .*, within the hour: renew it/],
  ] as const) {
    it(`fails loudly, issuing nothing, when the CA ${what}`, async () => {
      const dying = datedCa(join(work, `ca-dying-${n}`), asn1(nowSeconds() + from), asn1(nowSeconds() + to));
      const out = outDir();
      const r = await runScript(shell, { CERT_DIR: out, CA_DIR: dying });
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(message);
      expect(readdirSync(out)).toEqual([]);
    });
  }

  it('writes nothing outside CERT_DIR: HOME and the working directory are read-only', async () => {
    const asRoot = process.getuid?.() === 0;
    const uid = asRoot ? 65534 : undefined;
    const home = join(work, `home-${n}`);
    const cwd = join(work, `cwd-${n}`);
    mkdirSync(home);
    mkdirSync(cwd);
    chmodSync(home, 0o500);
    chmodSync(cwd, 0o500);
    const own = join(work, `ca-own-${n}`);
    caSecret(own, true);
    const out = outDir();
    if (uid !== undefined) {
      for (const dir of [own, out]) {
        chownSync(dir, uid, uid);
        for (const f of readdirSync(dir)) chownSync(join(dir, f), uid, uid);
      }
    }
    const r = await runScript(shell, { CERT_DIR: out, CA_DIR: own }, { home, cwd, uid });
    expect(r.stderr + r.stdout).toContain('ray-tls: issued a certificate');
    expect(r.status).toBe(0);
    expect(readdirSync(home)).toEqual([]);
    expect(readdirSync(cwd)).toEqual([]);
    expect(readdirSync(out).sort()).toEqual(['ca.crt', 'tls.crt', 'tls.key']);
    expect(statSync(join(out, 'tls.key')).uid).toBe(uid ?? process.getuid?.());
    expect(existsSync(join(out, '.issue'))).toBe(false);
  });
});
