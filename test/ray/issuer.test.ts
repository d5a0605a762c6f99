// The cert-manager stand-in's CA renewal (issuer.ts renewCertificate), checked with `openssl
// verify` (docs/design.md §5.4): rotationPolicy Never keeps the CA key, so leaves signed before and
// after the renewal verify against either ca.crt; Always makes a new key, so they do not. Also
// a CA issued with a chosen validity window (20 days left). No root needed.
// Run: npx vitest run --config test/ray/vitest.config.ts test/ray/issuer.test.ts
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CertificateObject, issueCertificates, renewCertificate, secretDirs, serialOf } from './issuer.js';

const DAY = 86_400_000;
const NS = 'ray';

const ca: CertificateObject = {
  kind: 'Certificate',
  metadata: { name: 'ray-tls-ca', namespace: NS },
  spec: {
    secretName: 'ray-tls-ca',
    isCA: true,
    commonName: 'ray-tls CA',
    duration: '2160h',
    privateKey: { algorithm: 'ECDSA', size: 256 },
    issuerRef: { name: 'bootstrap' },
  },
};
const issuers = [
  { kind: 'Issuer', metadata: { name: 'bootstrap', namespace: NS }, spec: { selfSigned: {} } },
  { kind: 'Issuer', metadata: { name: 'ray-tls-ca', namespace: NS }, spec: { ca: { secretName: 'ray-tls-ca' } } },
];
const leaf = (name: string): CertificateObject => ({
  kind: 'Certificate',
  metadata: { name, namespace: NS },
  spec: {
    secretName: name,
    commonName: name,
    usages: ['client auth', 'digital signature'],
    privateKey: { algorithm: 'ECDSA' },
    issuerRef: { name: 'ray-tls-ca' },
  },
});

/** `openssl verify -CAfile caFile leaf` (optionally at a time), ok and the output. */
function verify(caFile: string, leafFile: string, atTime?: number): { ok: boolean; output: string } {
  const args = [
    'verify',
    '-CAfile',
    caFile,
    ...(atTime ? ['-attime', String(Math.floor(atTime / 1000))] : []),
    leafFile,
  ];
  try {
    return { ok: true, output: execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    return { ok: false, output: `${err.stdout ?? ''}${err.stderr ?? ''}` };
  }
}

const enddate = (file: string) =>
  new Date(
    execFileSync('openssl', ['x509', '-in', file, '-noout', '-enddate'], { encoding: 'utf8' })
      .trim()
      .replace(/^notAfter=/, ''),
  );
const pubkey = (file: string) =>
  execFileSync('openssl', ['x509', '-in', file, '-noout', '-pubkey'], { encoding: 'utf8' });

describe('issuer: CA renewal as cert-manager does it', () => {
  let dir = '';
  let caDir = '';
  let oldCa = ''; // a copy of the CA Secret as first issued: what a pod started before the renewal holds
  let oldLeaf = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ray-issuer-renew-'));
    const now = Date.now();
    // A CA issued 70 days ago that has 20 days left, and a leaf it signed.
    const issued = secretDirs(
      issueCertificates([...issuers, ca, leaf('old-leaf')], join(dir, 'first'), {
        validity: { 'ray-tls-ca': { notBefore: new Date(now - 70 * DAY), notAfter: new Date(now + 20 * DAY) } },
      }),
      NS,
    );
    caDir = issued['ray-tls-ca']!;
    oldLeaf = join(issued['old-leaf']!, 'tls.crt');
    oldCa = join(dir, 'old-ca');
    cpSync(caDir, oldCa, { recursive: true });
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('issues a CA with a chosen validity window: 20 days left', () => {
    const left = (enddate(join(caDir, 'ca.crt')).getTime() - Date.now()) / DAY;
    expect(left).toBeGreaterThan(19.9);
    expect(left).toBeLessThan(20.1);
    expect(verify(join(caDir, 'ca.crt'), oldLeaf).ok).toBe(true);
    // The leaf (90 days by default) is valid past the CA: openssl fails it at the CA's expiry.
    const after = verify(join(caDir, 'ca.crt'), oldLeaf, Date.now() + 25 * DAY);
    expect(after.output).toMatch(/certificate has expired/);
    expect(() =>
      issueCertificates([...issuers, ca], join(dir, 'bad'), {
        validity: { 'ray-tls-ca': { notBefore: new Date(), notAfter: new Date(Date.now() - DAY) } },
      }),
    ).toThrow(/is not after/);
  });

  /** Renews a copy of the first CA Secret with `policy`, then issues a leaf with the renewed CA. */
  function renewCopy(policy: 'Never' | 'Always') {
    const renewed = join(dir, `renewed-${policy}`);
    cpSync(oldCa, renewed, { recursive: true });
    const r = renewCertificate(ca, renewed, { rotationPolicy: policy });
    const issued = secretDirs(
      issueCertificates([...issuers, leaf('new-leaf')], join(dir, `after-${policy}`), {
        secrets: { [`${NS}/ray-tls-ca`]: renewed },
      }),
      NS,
    );
    return { r, renewed, newLeaf: join(issued['new-leaf']!, 'tls.crt') };
  }

  it('rotationPolicy Never: same key, new serial and validity; old and new leaves verify against either ca.crt', () => {
    const { r, renewed, newLeaf } = renewCopy('Never');
    expect(r.keyChanged).toBe(false);
    expect(readFileSync(join(renewed, 'tls.key'), 'utf8')).toBe(readFileSync(join(oldCa, 'tls.key'), 'utf8'));
    expect(r.serialAfter).not.toBe(r.serialBefore);
    expect(serialOf(join(renewed, 'ca.crt'))).toBe(r.serialAfter);
    expect(readFileSync(join(renewed, 'ca.crt'), 'utf8')).toBe(readFileSync(join(renewed, 'tls.crt'), 'utf8'));
    expect(pubkey(join(renewed, 'ca.crt'))).toBe(pubkey(join(oldCa, 'ca.crt')));
    const left = (enddate(join(renewed, 'ca.crt')).getTime() - Date.now()) / DAY;
    expect(Math.round(left)).toBe(90); // duration 2160h from now
    const oldToNew = verify(join(renewed, 'ca.crt'), oldLeaf);
    const newToOld = verify(join(oldCa, 'ca.crt'), newLeaf);
    console.log(
      `[issuer] Never: old leaf vs renewed ca.crt: ${oldToNew.output.trim()} | new leaf vs old ca.crt: ` +
        `${newToOld.output.trim()}`,
    );
    expect(oldToNew.ok, oldToNew.output).toBe(true);
    expect(newToOld.ok, newToOld.output).toBe(true);
    // A pod still holding the old CA certificate fails only once that certificate expires.
    expect(verify(join(oldCa, 'ca.crt'), newLeaf, Date.now() + 25 * DAY).output).toMatch(/certificate has expired/);
    expect(verify(join(renewed, 'ca.crt'), newLeaf, Date.now() + 25 * DAY).ok).toBe(true);
  });

  it('rotationPolicy Always: a new key; old and new leaves do not verify across the renewal', () => {
    const { r, renewed, newLeaf } = renewCopy('Always');
    expect(r.keyChanged).toBe(true);
    expect(r.serialAfter).not.toBe(r.serialBefore);
    expect(pubkey(join(renewed, 'ca.crt'))).not.toBe(pubkey(join(oldCa, 'ca.crt')));
    const oldToNew = verify(join(renewed, 'ca.crt'), oldLeaf);
    const newToOld = verify(join(oldCa, 'ca.crt'), newLeaf);
    console.log(
      `[issuer] Always: old leaf vs renewed ca.crt: ${oldToNew.output.trim().split('\n').join(' / ')} | ` +
        `new leaf vs old ca.crt: ${newToOld.output.trim().split('\n').join(' / ')}`,
    );
    expect(oldToNew.ok).toBe(false);
    expect(newToOld.ok).toBe(false);
    expect(oldToNew.output).toMatch(/unable to get local issuer certificate/);
    expect(newToOld.output).toMatch(/unable to get local issuer certificate/);
    expect(verify(join(renewed, 'ca.crt'), newLeaf).ok).toBe(true);
  });

  it('the policy comes from spec.privateKey.rotationPolicy, default Always', () => {
    const a = join(dir, 'spec-never');
    cpSync(oldCa, a, { recursive: true });
    expect(
      renewCertificate(
        { ...ca, spec: { ...ca.spec, privateKey: { ...ca.spec.privateKey, rotationPolicy: 'Never' } } },
        a,
      ).keyChanged,
    ).toBe(false);
    const b = join(dir, 'spec-default');
    cpSync(oldCa, b, { recursive: true });
    const r = renewCertificate(ca, b);
    expect(r.rotationPolicy).toBe('Always');
    expect(r.keyChanged).toBe(true);
    expect(() => renewCertificate(ca, join(dir, 'missing'))).toThrow(/no tls.key/);
  });

  it('renews a leaf issued by a CA Issuer (issuerSecret) keeping its key with Never', () => {
    const issued = secretDirs(
      issueCertificates([...issuers, leaf('renew-me')], join(dir, 'leaf-renew'), {
        secrets: { [`${NS}/ray-tls-ca`]: caDir },
      }),
      NS,
    );
    const d = issued['renew-me']!;
    const r = renewCertificate(leaf('renew-me'), d, { rotationPolicy: 'Never', issuerSecret: caDir });
    expect(r.keyChanged).toBe(false);
    expect(r.serialAfter).not.toBe(r.serialBefore);
    expect(verify(join(d, 'ca.crt'), join(d, 'tls.crt')).ok).toBe(true);
  });
});
