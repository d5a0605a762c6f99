// `ray-tls check` against real servers on 127.0.0.1, with certificates from the openssl CLI.
import { execFileSync } from 'node:child_process';
import * as nodeCrypto from 'node:crypto';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { judgeMtls, namesHost } from '../../src/cli/check/judge.js';
import type { Attempt, Handshake } from '../../src/cli/check/probe.js';
import { throwawayClient } from '../../src/cli/check/throwaway.js';
import { CHECK_HELP, type CheckReport, checkCommand, parseCheckArgs } from '../../src/cli/check.js';
import { ROOT } from '../support/paths.js';

const dir = mkdtempSync(join(tmpdir(), 'ray-tls-check-'));
const f = (name: string) => join(dir, name);
const openssl = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

function makeCa(name: string): void {
  const ext = ['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'];
  openssl([
    'req',
    '-x509',
    '-config',
    'req.cnf',
    ...EC,
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.crt`,
    '-subj',
    `/CN=${name}`,
    '-days',
    '3650',
    ...ext,
  ]);
}

let serial = 1;
function makeLeaf(name: string, ca: string, days: number, ext: string): void {
  openssl([
    'req',
    '-new',
    '-config',
    'req.cnf',
    ...EC,
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.csr`,
    '-subj',
    `/CN=${name}`,
  ]);
  writeFileSync(f(`${name}.ext`), `basicConstraints = critical,CA:FALSE\n${ext}\n`);
  openssl([
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${ca}.crt`,
    '-CAkey',
    `${ca}.key`,
    '-set_serial',
    String(serial++),
    '-days',
    String(days),
    '-sha256',
    '-extfile',
    `${name}.ext`,
    '-out',
    `${name}.crt`,
  ]);
}

const SERVER_EXT = 'subjectAltName = IP:127.0.0.1,DNS:localhost\nextendedKeyUsage = serverAuth';
const read = (name: string) => readFileSync(f(name), 'utf8');
const TOKEN = 'tok-3f9a1c-secret-value';

// Every server and every connection it accepted, so afterAll can end them.
const servers: net.Server[] = [];
const sockets = new Set<net.Socket>();
async function listen(server: net.Server): Promise<number> {
  servers.push(server);
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

function tlsServer(leaf: string, options: tls.TlsOptions = {}): Promise<number> {
  const keys = { key: read(`${leaf}.key`), cert: read(`${leaf}.crt`) };
  const server = tls.createServer({ ...keys, ALPNProtocols: ['h2'], ...options });
  // Like gRPC: speak first once the handshake is done (HTTP/2 SETTINGS in real life).
  server.on('secureConnection', (s) => s.write('\0'));
  server.on('tlsClientError', () => {});
  return listen(server);
}

async function check(...argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await checkCommand(argv, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) });
  return { code, stdout, stderr };
}

const ports: Record<string, number> = {};
const CLIENT = ['--cert', f('client.crt'), '--key', f('client.key')];

beforeAll(async () => {
  writeFileSync(f('req.cnf'), '[req]\nprompt = no\ndistinguished_name = dn\n[dn]\nCN = x\n');
  makeCa('ca');
  makeCa('foreign-ca');
  makeLeaf('ray-head', 'ca', 365, SERVER_EXT);
  makeLeaf('client', 'ca', 365, 'extendedKeyUsage = clientAuth');
  makeLeaf('stranger', 'foreign-ca', 365, 'extendedKeyUsage = clientAuth');
  makeLeaf('foreign-head', 'foreign-ca', 365, SERVER_EXT);
  makeLeaf('short-lived', 'ca', 1, SERVER_EXT);
  writeFileSync(f('leaf-and-ca.crt'), read('ray-head.crt') + read('ca.crt'));
  writeFileSync(f('token'), TOKEN + '\n');
  writeFileSync(f('empty-token'), '\n');

  const mtls = { ca: read('ca.crt'), requestCert: true, rejectUnauthorized: true };
  ports.mtls = await tlsServer('ray-head', { ...mtls, cert: read('leaf-and-ca.crt') });
  ports.mtls12 = await tlsServer('ray-head', { ...mtls, maxVersion: 'TLSv1.2' });
  ports.noMtls = await tlsServer('ray-head');
  ports.http11 = await tlsServer('ray-head', { ALPNProtocols: ['http/1.1'] });
  ports.foreign = await tlsServer('foreign-head', mtls);
  // Refuses a client without a certificate and serves any certificate, from any CA.
  const anyCa = { ca: read('ca.crt'), requestCert: true, rejectUnauthorized: false };
  const anyCert = tls.createServer({ key: read('ray-head.key'), cert: read('ray-head.crt'), ...anyCa });
  anyCert.on('secureConnection', (s) => (s.getPeerCertificate().raw ? s.write('\0') : s.destroy()));
  ports.anyCert = await listen(anyCert);
  // Completes every handshake, then closes: refuses the right certificate as much as the others.
  const closesAll = tls.createServer({ key: read('ray-head.key'), cert: read('ray-head.crt'), ...anyCa });
  closesAll.on('secureConnection', (s) => s.destroy());
  ports.closesAll = await listen(closesAll);
  // An HTTP/2 server with mTLS: speaks first with its SETTINGS frame, as gRPC does.
  const h2 = http2.createSecureServer({ key: read('ray-head.key'), cert: read('leaf-and-ca.crt'), ...mtls });
  h2.on('tlsClientError', () => {});
  ports.h2mtls = await listen(h2);
  ports.shortLived = await tlsServer('short-lived', mtls);
  ports.closes = await listen(net.createServer((s) => s.destroy()));
  ports.http = await listen(net.createServer((s) => s.end('HTTP/1.1 400 Bad Request\r\n\r\n')));
  ports.h2c = await listen(http2.createServer());
  ports.silent = await listen(net.createServer(() => {}));
  const gone = net.createServer();
  ports.refused = await listen(gone);
  await new Promise((resolve) => gone.close(resolve));
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(servers.filter((s) => s.listening).map((s) => new Promise((resolve) => s.close(resolve))));
  rmSync(dir, { recursive: true, force: true });
});

const at = (name: string) => `127.0.0.1:${ports[name]}`;
const CA = ['--ca', f('ca.crt')];

describe('ray-tls check against a TLS endpoint', () => {
  it('mTLS required, chain from the CA, client certificate accepted: exit 0 with one line per fact', async () => {
    const r = await check(at('mtls'), ...CA, ...CLIENT, '--token-file', f('token'), '--warn-days', '30');
    expect(r.stderr).toBe('');
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`ok    TCP connect to ${at('mtls')}`);
    expect(lines[1]).toBe('ok    TLS: TLSv1.3, ALPN h2');
    const sans = 'SANs IP Address:127\\.0\\.0\\.1, DNS:localhost';
    expect(lines[2]).toMatch(new RegExp(`^ {6}\\[0\\] CN=ray-head; issuer CN=ca; serial \\w+; ${sans}$`));
    expect(lines[3]).toMatch(/^ {6}\[1\] CN=ca; issuer CN=ca; serial \w+; SANs none$/);
    expect(lines).toContain(`ok    chain verifies against ${f('ca.crt')} (2 certificates)`);
    expect(lines).toContain('ok    certificate names 127.0.0.1');
    const expires = /^ok {4}expires \d{4}-\d\d-\d\d \((364|365) days left\): CN=ray-head$/;
    expect(lines).toContainEqual(expect.stringMatching(expires));
    expect(lines).toContainEqual(expect.stringMatching(/^ok {4}expires \d{4}-\d\d-\d\d \(\d{4} days left\): CN=ca$/));
    const mtlsOn =
      'ok    mTLS on: the server refused a client without a certificate' +
      ' (TLS alert "certificate required" after the handshake) and one with a self-signed certificate' +
      ` (the server closed the connection right after the handshake), and served ${f('client.crt')}`;
    expect(lines).toContain(mtlsOn);
    const served =
      `ok    the handshake with the client certificate ${f('client.crt')} succeeded: ` +
      'the server spoke after the handshake';
    expect(lines).toContain(served);
    expect(lines).toContain(`ok    Ray auth token present in ${f('token')} (not sent, not printed)`);
    expect(lines.at(-1)).toBe(`ok    ${at('mtls')}: all 9 checks passed`);
    expect(r.code).toBe(0);
    // No key material, no token.
    expect(r.stdout).not.toContain(TOKEN);
    expect(r.stdout).not.toMatch(/PRIVATE KEY|BEGIN/);
  });

  it('TLS 1.2: the server refuses a client without a certificate inside the handshake, still mTLS on', async () => {
    const r = await check(at('mtls12'), ...CA, ...CLIENT);
    expect(r.stdout).toContain('ok    TLS: TLSv1.2, ALPN h2');
    const inHandshake = '(the handshake failed with TLS alert "handshake failure")';
    // Node's TLS 1.2 server closes on a certificate from no CA without an alert, as BoringSSL does.
    const closed = '(the server closed the connection during the handshake, without an alert)';
    expect(r.stdout).toContain(
      `ok    mTLS on: the server refused a client without a certificate ${inHandshake} and one with a self-signed ` +
        `certificate ${closed}, and served ${f('client.crt')}`,
    );
    // The server sends its leaf only; the chain is completed with the CA from --ca.
    expect(r.stdout).toContain(`ok    chain verifies against ${f('ca.crt')} (2 certificates)`);
    expect(r.code).toBe(0);
  });

  it('TLS 1.2 with mTLS and no --cert: no handshake completes, so no chain to check', async () => {
    const r = await check(at('mtls12'), ...CA);
    const noHandshake = 'FAIL  TLS is on, but no handshake completed: handshake failed: TLS alert "handshake failure"';
    expect(r.stdout).toContain(`${noHandshake} (if the server wants a client certificate: pass --cert and --key)`);
    // Refusing both clients is what a server that refuses everyone does too: not proof.
    expect(r.stdout).toMatch(/^FAIL {2}mTLS unknown: the server refused a client without a certificate .*$/m);
    expect(r.stdout).toContain('; without --cert/--key it cannot be told from a server that refuses every client\n');
    expect(r.stdout).not.toContain('chain verifies');
    expect(r.code).toBe(1);
  });

  it('a TLS server without h2 refuses the gRPC client: TLS on, no handshake, mTLS unknown', async () => {
    const r = await check(at('http11'), ...CA);
    const alert = 'TLS alert "no application protocol"';
    expect(r.stdout).toContain(`FAIL  TLS is on, but no handshake completed: handshake failed: ${alert}`);
    expect(r.stdout).toContain(`FAIL  mTLS unknown: the handshake failed with ${alert}`);
    expect(r.stdout).not.toContain('pass --cert');
    expect(r.code).toBe(1);
  });

  it('a client certificate from another CA: the server refuses it, so mTLS is not proven', async () => {
    const r = await check(at('mtls'), ...CA, '--cert', f('stranger.crt'), '--key', f('stranger.key'));
    const refused = `FAIL  the server did not serve the client certificate ${f('stranger.crt')}: `;
    // Node's server verifies after OpenSSL's handshake and just closes, without an alert, as BoringSSL does.
    expect(r.stdout).toContain(`${refused}the server closed the connection right after the handshake`);
    expect(r.stdout).toMatch(/^FAIL {2}mTLS unknown: the server refused .*, but did not serve .*stranger\.crt either/m);
    expect(r.code).toBe(1);
  });

  it('a server that does not ask for a client certificate: mTLS off fails the check', async () => {
    const r = await check(at('noMtls'), ...CA);
    expect(r.stdout).toMatch(/^FAIL {2}mTLS off: the server accepted a client without a certificate/m);
    expect(r.stdout).toContain('ok    certificate names 127.0.0.1');
    expect(r.stdout).toContain(`FAIL  ${at('noMtls')}: 1 of 7 checks failed`);
    expect(r.code).toBe(1);
  });

  it('a server certificate from a foreign CA does not verify', async () => {
    const r = await check(at('foreign'), ...CA);
    expect(r.stdout).toContain(`FAIL  chain (1 certificate) does not verify against ${f('ca.crt')}: UNABLE_TO`);
    expect(r.code).toBe(1);
  });

  it('without --ca the chain is reported unverified', async () => {
    const r = await check(at('mtls'));
    expect(r.stdout).toContain('FAIL  chain (2 certificates) unverified: no --ca given: the chain was not verified');
    expect(r.code).toBe(1);
  });

  it('--warn-days 30 fails on a certificate with a day left; the default only fails on expired ones', async () => {
    const near = await check(at('shortLived'), ...CA, '--warn-days', '30');
    const within = /^FAIL {2}expires \d{4}-\d\d-\d\d \(0 days left, within --warn-days 30\): CN=short-lived$/m;
    expect(near.stdout).toMatch(within);
    expect(near.code).toBe(1);
    const relaxed = await check(at('shortLived'), ...CA, ...CLIENT);
    expect(relaxed.stdout).toMatch(/^ok {4}expires \d{4}-\d\d-\d\d \(0 days left\): CN=short-lived$/m);
    expect(relaxed.code).toBe(0);
  });

  it('--servername names another host: the name check fails, the chain still verifies', async () => {
    const r = await check(at('mtls'), ...CA, '--servername', 'other.example');
    const names = "the certificate's names are IP Address:127.0.0.1, DNS:localhost";
    expect(r.stdout).toContain(`FAIL  certificate does not name other.example: ${names}`);
    expect(r.stdout).toContain('ok    chain verifies');
    expect(r.code).toBe(1);
    const byName = await check(at('mtls'), ...CA, '--servername', 'localhost');
    expect(byName.stdout).toContain('ok    certificate names localhost');
  });

  it('--json prints the report with its stable fields', async () => {
    const r = await check(at('mtls'), ...CA, ...CLIENT, '--json');
    const report = JSON.parse(r.stdout) as CheckReport;
    expect(report.endpoint).toBe(at('mtls'));
    expect(report.tls).toEqual({ on: true, protocol: 'TLSv1.3', alpn: 'h2', error: null });
    expect(report.chain).toHaveLength(2);
    const sans = ['IP Address:127.0.0.1', 'DNS:localhost'];
    expect(report.chain[0]).toMatchObject({ subject: 'CN=ray-head', issuer: 'CN=ca', sans });
    const fields = ['daysLeft', 'issuer', 'notAfter', 'notBefore', 'sans', 'serial', 'subject'];
    expect(Object.keys(report.chain[0]).sort()).toEqual(fields);
    expect(report.chain[0].daysLeft).toBeGreaterThanOrEqual(364);
    expect(Date.parse(report.chain[0].notAfter)).toBeGreaterThan(Date.now());
    expect(report.verified).toEqual({ ok: true, error: null });
    expect(report.namesHost).toEqual({ ok: true, name: '127.0.0.1', error: null });
    expect(report.mtls).toEqual({
      state: 'on',
      detail: expect.stringMatching(/^the server refused a client without a certificate/),
      noCert: { outcome: 'refused', detail: 'TLS alert "certificate required" after the handshake' },
      selfSigned: { outcome: 'refused', detail: 'the server closed the connection right after the handshake' },
      clientCert: { outcome: 'served', detail: 'the server spoke after the handshake' },
    });
    const names = ['connect', 'tls', 'verified', 'namesHost', 'expiry', 'expiry', 'mtls', 'clientCert'];
    expect(report.checks.map((c) => c.name)).toEqual(names);
    expect(report.ok).toBe(true);
    expect(r.code).toBe(0);
  });
});

describe('mTLS on only when proven: no certificate and a self-signed one refused, --cert served', () => {
  it('an HTTP/2 server requiring a certificate from the CA (SETTINGS first, like gRPC): mTLS on, exit 0', async () => {
    const r = await check(at('h2mtls'), ...CA, ...CLIENT, '--json');
    const report = JSON.parse(r.stdout) as CheckReport;
    expect(report.mtls.state).toBe('on');
    expect(report.mtls.noCert.outcome).toBe('refused');
    expect(report.mtls.selfSigned?.outcome).toBe('refused');
    expect(report.mtls.clientCert).toEqual({ outcome: 'served', detail: 'the server spoke after the handshake' });
    expect(r.code).toBe(0);
  });

  it('a server that accepts a client certificate from any CA: mTLS off, though it refuses no certificate', async () => {
    const r = await check(at('anyCert'), ...CA, ...CLIENT, '--json');
    const report = JSON.parse(r.stdout) as CheckReport;
    expect(report.mtls).toMatchObject({
      state: 'off',
      detail:
        'the server accepted a throwaway self-signed client certificate, i.e. any CA' +
        ' (the server spoke after the handshake)',
      noCert: { outcome: 'refused' },
      selfSigned: { outcome: 'served' },
      clientCert: { outcome: 'served' },
    });
    expect(report.checks.find((c) => c.name === 'mtls')).toMatchObject({ ok: false });
    expect(r.code).toBe(1);
    const text = await check(at('anyCert'), ...CA, ...CLIENT);
    expect(text.stdout).toMatch(/^FAIL {2}mTLS off: the server accepted a throwaway self-signed client certificate/m);
  });

  it('a server that closes after every handshake: mTLS unknown, never on, and --json says why', async () => {
    const r = await check(at('closesAll'), ...CA, ...CLIENT, '--json');
    const report = JSON.parse(r.stdout) as CheckReport;
    const gone = { outcome: 'refused', detail: 'the server closed the connection right after the handshake' };
    expect(report.mtls).toEqual({
      state: 'unknown',
      detail:
        `unknown: the server refused a client without a certificate (${gone.detail}) and one with a self-signed ` +
        `certificate (${gone.detail}), but did not serve ${f('client.crt')} either (${gone.detail})`,
      noCert: gone,
      selfSigned: gone,
      clientCert: gone,
    });
    expect(report.ok).toBe(false);
    expect(r.code).toBe(1);
  });

  it('a plaintext server: TLS off, mTLS not judged', async () => {
    const r = await check(at('h2c'), ...CA, ...CLIENT, '--json');
    const report = JSON.parse(r.stdout) as CheckReport;
    expect(report.tls.on).toBe(false);
    expect(report.mtls.state).toBe('unknown');
    expect(report.checks.map((c) => c.name)).toEqual(['connect', 'tls']);
  });
});

describe('the judgement alone (made-up observations)', () => {
  const handshake = (after: Handshake['after']): Handshake => ({
    kind: 'tls',
    protocol: 'TLSv1.3',
    alpn: 'h2',
    chain: [],
    authorizationError: null,
    after,
  });
  const served = handshake({ kind: 'served', detail: 'spoke' });
  const closed = handshake({ kind: 'refused', detail: 'closed' });
  const silent = handshake({ kind: 'silent', detail: 'quiet' });
  const midway: Attempt = { kind: 'closed', error: 'closed mid-handshake' };
  const noAlpn: Attempt = { kind: 'alert', error: 'TLS alert "no application protocol"' };
  it.each([
    ['refused, refused, served', closed, midway, served, 'on'],
    ['refused, refused, not given', closed, closed, undefined, 'unknown'],
    ['refused, refused, refused (closes on everyone)', closed, closed, closed, 'unknown'],
    ['refused, refused, silent (never spoke)', closed, midway, silent, 'unknown'],
    ['served without a certificate', served, closed, served, 'off'],
    ['silent without a certificate (not refused)', silent, closed, served, 'off'],
    ['refused, self-signed served', closed, served, served, 'off'],
    ['an alert that is not about certificates', noAlpn, noAlpn, noAlpn, 'unknown'],
  ] as const)('%s: %s', (_, bare, selfSigned, withCert, state) => {
    expect(judgeMtls({ bare, selfSigned, ...(withCert && { withCert }) }).state).toBe(state);
  });

  it('the name check: an IP address against IP SANs, a name against DNS SANs', () => {
    const leaf = new X509Certificate(read('ray-head.crt'));
    expect(namesHost(leaf, '127.0.0.1')).toBeNull();
    expect(namesHost(leaf, 'localhost')).toBeNull();
    expect(namesHost(leaf, '127.0.0.2')).toBe("the certificate's names are IP Address:127.0.0.1, DNS:localhost");
    expect(namesHost(undefined, 'x')).toBe('no certificate');
  });
});

describe('the throwaway client certificate', () => {
  it('is a v3 self-signed certificate that openssl reads and that verifies with its own key, every time', () => {
    for (let i = 0; i < 200; i++) {
      const { cert, key } = throwawayClient(nodeCrypto);
      const x = new X509Certificate(cert);
      expect(x.verify(x.publicKey) && x.checkPrivateKey(nodeCrypto.createPrivateKey(key))).toBe(true);
      tls.createSecureContext({ cert, key });
    }
    const { cert } = throwawayClient(nodeCrypto);
    const text = execFileSync('openssl', ['x509', '-noout', '-text'], { input: cert, encoding: 'utf8' });
    expect(text).toContain('Version: 3 (0x2)');
    expect(text).toContain('Issuer: CN = ray-tls check throwaway client');
    expect(text).toContain('Subject: CN = ray-tls check throwaway client');
  });
});

describe('ray-tls check against an endpoint without TLS', () => {
  it.each([
    ['closes the connection', 'closes', 'closed the connection instead of answering the TLS ClientHello'],
    ['answers in plaintext HTTP', 'http', 'answered the TLS ClientHello with non-TLS bytes'],
    ['is a plaintext HTTP/2 server (like a Ray port without TLS)', 'h2c', 'the TLS ClientHello'],
  ])('a server that %s: TLS is off, exit 1', async (_, name, why) => {
    const r = await check(at(name), ...CA);
    expect(r.stdout).toContain(`ok    TCP connect to ${at(name)}`);
    expect(r.stdout).toMatch(new RegExp(`^FAIL  TLS is off: .*${why}`, 'm'));
    expect(r.stdout).toContain(`FAIL  ${at(name)}: 1 of 2 checks failed`);
    expect(r.code).toBe(1);
  });

  it('a server that never answers: TLS is off after --timeout', async () => {
    const r = await check(at('silent'), ...CA, '--timeout', '0.5', '--json');
    const report = JSON.parse(r.stdout) as CheckReport;
    const error = 'TCP connected but no TLS answer within 0.5s (the port waits for a plaintext client)';
    expect(report.tls).toMatchObject({ on: false, error });
    expect(report.ok).toBe(false);
    expect(r.code).toBe(1);
  });

  it('connection refused is told apart from TLS off', async () => {
    const r = await check(at('refused'), ...CA);
    expect(r.stdout).toBe(
      `FAIL  cannot connect to ${at('refused')}: connection refused (nothing listens on the port)\n` +
        `FAIL  ${at('refused')}: 1 of 1 check failed\n`,
    );
    expect(r.code).toBe(1);
  });

  it('a name that does not resolve is a DNS failure', async () => {
    const r = await check('ray-head.invalid:10001', ...CA);
    expect(r.stdout).toContain('FAIL  cannot connect to ray-head.invalid:10001: DNS lookup of ray-head.invalid failed');
    expect(r.code).toBe(1);
  });
});

describe('ray-tls check usage', () => {
  it('--help prints the usage and exits 0', async () => {
    expect(await check('--help')).toEqual({ code: 0, stdout: CHECK_HELP + '\n', stderr: '' });
    expect(CHECK_HELP).toMatch(/^Usage: ray-tls check HOST:PORT/);
  });

  it.each([
    [[], 'HOST:PORT is missing'],
    [['ray-head'], 'expected HOST:PORT'],
    [['ray-head:99999'], 'port must be 1-65535'],
    [['a:1', 'b:2'], 'one HOST:PORT only'],
    [['ray-head:10001', '--cert', 'c.crt'], '--cert and --key go together'],
    [['ray-head:10001', '--warn-days', 'soon'], '--warn-days must be a whole number'],
    [['ray-head:10001', '--timeout', '0'], '--timeout must be'],
    [['ray-head:10001', '--ca'], '--ca needs a value'],
    [['ray-head:10001', '--frobnicate'], 'unknown option --frobnicate'],
  ])('%j exits 2: %s', async (argv, message) => {
    const r = await check(...argv);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(new RegExp(`^error: .*${message.replace(/[-.*+?^${}()|[\]\\]/g, '\\$&')}`));
    expect(r.stderr).toContain('Usage: ray-tls check');
  });

  it('parses IPv6 endpoints and the defaults', () => {
    const defaults = { json: false, warnDays: 0, timeoutSeconds: 5 };
    expect(parseCheckArgs(['[::1]:6379'])).toEqual({ host: '::1', port: 6379, ...defaults });
  });

  it('an unreadable --ca, a --key that does not match --cert, an empty token: exit 2 or a failed check', async () => {
    const missing = await check(at('mtls'), '--ca', f('nope.crt'));
    expect(missing).toEqual({ code: 2, stdout: '', stderr: `error: cannot read --ca ${f('nope.crt')}: ENOENT\n` });
    const mismatch = await check(at('mtls'), ...CA, '--cert', f('client.crt'), '--key', f('stranger.key'));
    expect(mismatch.code).toBe(2);
    expect(mismatch.stderr).toMatch(/^error: unusable --ca\/--cert\/--key: .*key values mismatch/);
    expect(mismatch.stderr).not.toContain('PRIVATE KEY');
    const empty = await check(at('mtls'), ...CA, ...CLIENT, '--token-file', f('empty-token'));
    expect(empty.stdout).toContain(`FAIL  token file ${f('empty-token')} is empty`);
    expect(empty.code).toBe(1);
  });
});

describe('the monitoring CronJob example', () => {
  it('runs ray-tls check every 6 hours with the client certificate mounted read-only and no retries', () => {
    const text = readFileSync(join(ROOT, 'functions', 'monitoring', 'ray-tls-check-cronjob.yaml'), 'utf8');
    const cj = parse(text);
    expect(cj).toMatchObject({ apiVersion: 'batch/v1', kind: 'CronJob', metadata: { namespace: 'django-ray' } });
    expect(cj.spec.schedule).toBe('0 */6 * * *');
    const job = cj.spec.jobTemplate.spec;
    expect(job.backoffLimit).toBe(0);
    const pod = job.template.spec;
    expect(pod.restartPolicy).toBe('Never');
    const [c] = pod.containers;
    expect(c.args.slice(0, 2)).toEqual(['check', 'ray-head.django-ray.svc.cluster.local:10001']);
    expect(c.args.join(' ')).toContain('--warn-days 30');
    const files = { ca: '/etc/ray/tls/ca.crt', cert: '/etc/ray/tls/tls.crt', key: '/etc/ray/tls/tls.key' };
    expect(parseCheckArgs(c.args.slice(1))).toMatchObject({ warnDays: 30, ...files });
    expect(c.volumeMounts).toEqual([{ name: 'ray-tls-client', mountPath: '/etc/ray/tls', readOnly: true }]);
    const secret = expect.objectContaining({ secretName: 'ray-tls-check-ray-tls-client' });
    expect(pod.volumes).toContainEqual({ name: 'ray-tls-client', secret });
    expect(c.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
  });
});
