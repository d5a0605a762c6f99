// `ray-tls certs` with the real openssl: the Secrets' files, their modes and
// usages, no key material on stdout, and no overwriting without --force.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUNDLE } from '../support/paths.js';

const certs = (...args: string[]) => spawnSync(process.execPath, [BUNDLE, 'certs', ...args], { encoding: 'utf8' });
const x509 = (file: string) => execFileSync('openssl', ['x509', '-in', file, '-noout', '-text'], { encoding: 'utf8' });

describe('ray-tls certs', () => {
  const out = join(mkdtempSync(join(tmpdir(), 'ray-tls-certs-test-')), 'certs');
  const first = certs('--out', out, '--namespace', 'django-ray', '--client', 'django-ray-worker', '--key', 'ecdsa');

  it('prints the kubectl commands for the Secrets the default mode mounts, and no key material', () => {
    expect(first.status).toBe(0);
    expect(first.stdout.trim().split('\n')).toEqual([
      `kubectl create secret generic ray-tls-ca -n django-ray --from-file=${out}/ray-tls-ca/ca.crt ` +
        `--from-file=${out}/ray-tls-ca/tls.crt --from-file=${out}/ray-tls-ca/tls.key`,
      `kubectl create secret generic django-ray-worker-ray-tls-client -n django-ray ` +
        `--from-file=${out}/django-ray-worker-ray-tls-client/ca.crt ` +
        `--from-file=${out}/django-ray-worker-ray-tls-client/tls.crt ` +
        `--from-file=${out}/django-ray-worker-ray-tls-client/tls.key`,
    ]);
    expect(first.stdout + first.stderr).not.toMatch(/PRIVATE KEY|BEGIN/);
  });

  it('writes every file 0600 in 0700 directories', () => {
    for (const secret of ['ray-tls-ca', 'django-ray-worker-ray-tls-client']) {
      expect(statSync(join(out, secret)).mode & 0o777).toBe(0o700);
      for (const f of ['ca.crt', 'tls.crt', 'tls.key'])
        expect(statSync(join(out, secret, f)).mode & 0o777, `${secret}/${f}`).toBe(0o600);
    }
    expect(readFileSync(join(out, 'ray-tls-ca', 'tls.key'), 'utf8')).toContain('PRIVATE KEY');
  });

  it('makes a CA and a client-auth-only certificate that verifies against it', () => {
    const ca = x509(join(out, 'ray-tls-ca', 'ca.crt'));
    expect(ca).toMatch(/CA:TRUE/);
    expect(ca).toMatch(/Certificate Sign, CRL Sign/);
    const client = join(out, 'django-ray-worker-ray-tls-client', 'tls.crt');
    const text = x509(client);
    expect(text).toContain('Subject: CN = django-ray-worker');
    expect(text).toMatch(/Extended Key Usage: \n\s+TLS Web Client Authentication\n/);
    expect(text).toContain('id-ecPublicKey');
    const verify = (purpose: string) =>
      spawnSync('openssl', ['verify', '-CAfile', join(out, 'ray-tls-ca', 'ca.crt'), '-purpose', purpose, client], {
        encoding: 'utf8',
      });
    expect(verify('sslclient').stdout).toContain(': OK');
    expect(verify('sslserver').status).not.toBe(0);
  });

  it('keeps existing files unless --force', () => {
    const before = readFileSync(join(out, 'ray-tls-ca', 'tls.key'), 'utf8');
    const again = certs('--out', out);
    expect(again.status).toBe(1);
    expect(again.stderr).toContain('already exist; pass --force');
    expect(readFileSync(join(out, 'ray-tls-ca', 'tls.key'), 'utf8')).toBe(before);
    expect(certs('--out', out, '--force').status).toBe(0);
    expect(readFileSync(join(out, 'ray-tls-ca', 'tls.key'), 'utf8')).not.toBe(before);
  });

  it('--force over 0644 files and a 0755 directory writes them 0600 in 0700 again', () => {
    const ca = join(out, 'ray-tls-ca');
    chmodSync(ca, 0o755);
    for (const f of ['ca.crt', 'tls.crt', 'tls.key']) chmodSync(join(ca, f), 0o644);
    const r = certs('--out', out, '--force', '--key', 'ecdsa');
    expect(r.status, r.stderr).toBe(0);
    expect(statSync(ca).mode & 0o777).toBe(0o700);
    for (const f of ['ca.crt', 'tls.crt', 'tls.key']) expect(statSync(join(ca, f)).mode & 0o777, f).toBe(0o600);
  });

  it('rejects bad options with usage', () => {
    const r = certs('--key', 'dsa');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--key must be rsa or ecdsa');
    expect(r.stderr).toContain('Usage: ray-tls certs');
  });
});

describe('ray-tls certs --ca-name: a new CA beside the old one', () => {
  const out = join(mkdtempSync(join(tmpdir(), 'ray-tls-certs-ca2-')), 'certs');
  it('writes the second CA under its own name and subject, and keeps the first', () => {
    expect(certs('--out', out, '--key', 'ecdsa').status).toBe(0);
    const before = readFileSync(join(out, 'ray-tls-ca', 'tls.key'), 'utf8');
    const second = certs('--out', out, '--key', 'ecdsa', '--ca-name', 'ray-tls-ca-2');
    expect(second.status, second.stderr).toBe(0);
    expect(second.stdout).toContain('kubectl create secret generic ray-tls-ca-2 ');
    expect(readFileSync(join(out, 'ray-tls-ca', 'tls.key'), 'utf8')).toBe(before);
    // Chains are built by issuer name: two CAs must not share a subject.
    expect(x509(join(out, 'ray-tls-ca', 'tls.crt'))).toMatch(/Subject: CN ?= ?ray-tls CA ray-tls-ca\n/);
    expect(x509(join(out, 'ray-tls-ca-2', 'tls.crt'))).toMatch(/Subject: CN ?= ?ray-tls CA ray-tls-ca-2\n/);
    expect(certs('--out', out, '--ca-name', 'ray-tls-ca-2').status).toBe(1); // never overwritten without --force
  });
});

describe('ray-tls token', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ray-tls-token-'));
  const token = (...args: string[]) => spawnSync(process.execPath, [BUNDLE, 'token', ...args], { encoding: 'utf8' });
  it('writes a random token to a 0600 file and prints only the command that makes the Secret', () => {
    const file = join(dir, 'tok');
    const r = token('--out', file, '--namespace', 'django-ray');
    expect(r.status, r.stderr).toBe(0);
    const value = readFileSync(file, 'utf8');
    expect(value).toMatch(/^[0-9a-f]{64}$/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(r.stdout).toBe(
      `kubectl create secret generic ray-auth-token -n django-ray --from-file=auth_token=${file}\n`,
    );
    expect(r.stdout + r.stderr).not.toContain(value);
    expect(token('--out', file).status).toBe(1); // kept without --force
    expect(readFileSync(file, 'utf8')).toBe(value);
    expect(token('--out', file, '--force').status).toBe(0);
    expect(readFileSync(file, 'utf8')).not.toBe(value);
    expect(token('--secret', 'Bad_Name').status).toBe(2);
  });

  it('--force over a 0644 file leaves it 0600, as the message says', () => {
    const file = join(dir, 'loose');
    writeFileSync(file, 'old', { mode: 0o644 });
    chmodSync(file, 0o644);
    const r = token('--out', file, '--force');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain(`wrote a Ray auth token to ${file} (0600)`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });
});

describe('printed kubectl commands: --namespace validated, paths shell-quoted', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ray-tls-quote-'));
  const run = (cmd: string, ...args: string[]) =>
    spawnSync(process.execPath, [BUNDLE, cmd, ...args], { encoding: 'utf8' });

  it.each([['token'], ['certs']])("%s --namespace 'ns; echo x' is a one-line usage error", (cmd) => {
    const r = run(cmd, '--out', join(dir, `never-${cmd}`), '--namespace', 'ns; echo x');
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    const first = r.stderr.split('\n')[0];
    expect(first).toBe(
      `error: --namespace "ns; echo x" is not a namespace name (lowercase letters, digits and '-', at most 63)`,
    );
    expect(run(cmd, '--namespace', 'A'.repeat(3)).status).toBe(2);
    expect(run(cmd, '--namespace', 'a'.repeat(64)).status).toBe(2);
  });

  it('a path with a space, a quote and `$(...)` is printed as one shell word that sh reads back exactly', () => {
    const sub = join(dir, "it's $(touch pwned) x");
    mkdirSync(sub);
    const file = join(sub, 'tok');
    const r = run('token', '--out', file, '--namespace', 'django-ray');
    expect(r.status, r.stderr).toBe(0);
    // sh parses the printed command into words: printf shows them one per line, and runs nothing.
    const words = execFileSync('sh', ['-c', `set -- ${r.stdout.trim()}; printf '%s\\n' "$@"`], { cwd: dir });
    expect(words.toString().trimEnd().split('\n')).toEqual([
      'kubectl',
      'create',
      'secret',
      'generic',
      'ray-auth-token',
      '-n',
      'django-ray',
      `--from-file=auth_token=${file}`,
    ]);
    expect(spawnSync('ls', [join(dir, 'pwned')]).status).not.toBe(0);
    const c = run('certs', '--out', join(sub, 'certs'), '--key', 'ecdsa');
    expect(c.status, c.stderr).toBe(0);
    const caWords = execFileSync('sh', ['-c', `set -- ${c.stdout.trim()}; printf '%s\\n' "$@"`], { cwd: dir });
    expect(caWords.toString()).toContain(`--from-file=${join(sub, 'certs', 'ray-tls-ca', 'tls.key')}\n`);
  });
});
