// Runs the emitted init container's script with the machine's real openssl,
// against CA Secrets laid out as cert-manager writes them, and checks the leaf.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { INIT_SCRIPT } from '../src/tls/initScript.js';
import { envOf, podSpec, render, type Obj } from './support/emitted.js';

const openssl = (...args: string[]) => execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** A CA Secret directory as cert-manager writes it: ca.crt (root), tls.crt (the issuing CA), tls.key. */
function caSecret(dir: string, intermediate: boolean): string {
  mkdirSync(dir, { recursive: true });
  const ext = join(dir, 'ca.ext');
  writeFileSync(ext, 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign,digitalSignature\n');
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'root.key'), '-out', join(dir, 'ca.crt'), '-subj', '/CN=test root', '-days', '30', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  if (!intermediate) {
    writeFileSync(join(dir, 'tls.crt'), readFileSync(join(dir, 'ca.crt')));
    writeFileSync(join(dir, 'tls.key'), readFileSync(join(dir, 'root.key')));
    return dir;
  }
  openssl('req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'tls.key'), '-out', join(dir, 'int.csr'), '-subj', '/CN=test intermediate');
  openssl('x509', '-req', '-in', join(dir, 'int.csr'), '-CA', join(dir, 'ca.crt'), '-CAkey', join(dir, 'root.key'), '-set_serial', '2', '-days', '30', '-extfile', ext, '-out', join(dir, 'tls.crt'));
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
  const env = { ...envOf(init, { 'status.podIP': '10.244.7.2', 'metadata.name': 'ray-head-7d9f', 'metadata.namespace': 'django-ray' }), CERT_DIR: outDir, CA_DIR: caDir, PATH: process.env.PATH ?? '' };
  expect(init.command.slice(0, 2)).toEqual(['sh', '-c']);
  return spawnSync(init.command[0], init.command.slice(1), { env, encoding: 'utf8' });
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
    ['ECDSA, intermediate CA', 'functionConfig: {apiVersion: ray-tls.io/v1alpha1, kind: RayTLS, metadata: {name: t}, spec: {privateKey: {algorithm: ECDSA, size: 256}}}', true],
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

      // tls.crt is the chain: leaf, then the issuing CA; ca.crt is the root.
      const chain = readFileSync(join(outDir, 'tls.crt'), 'utf8');
      expect(chain.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
      const leaf = join(work, `leaf-${intermediate}.crt`);
      writeFileSync(leaf, chain.slice(0, chain.indexOf('-----END CERTIFICATE-----') + 26));
      expect(openssl('verify', '-CAfile', join(outDir, 'ca.crt'), '-untrusted', join(caDir, 'tls.crt'), '-purpose', 'sslserver', leaf)).toContain(': OK');
      expect(openssl('verify', '-CAfile', join(outDir, 'ca.crt'), '-untrusted', join(caDir, 'tls.crt'), '-purpose', 'sslclient', leaf)).toContain(': OK');

      const text = openssl('x509', '-in', leaf, '-noout', '-text');
      const sans = /X509v3 Subject Alternative Name:\s*\n\s*(.*)/.exec(text)![1].split(', ');
      expect(sans).toEqual([
        'IP Address:10.244.7.2', 'IP Address:127.0.0.1', 'DNS:localhost',
        'DNS:ray-head', 'DNS:ray-head.django-ray', 'DNS:ray-head.django-ray.svc', 'DNS:ray-head.django-ray.svc.cluster.local',
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
