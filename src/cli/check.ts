// `ray-tls check HOST:PORT`: looks at a live Ray gRPC endpoint the way a Ray
// client would (TLS, ALPN h2) and reports whether TLS is on, the chain the peer
// presented, whether it verifies against the CA and names the host, when each
// certificate expires and whether the server demands a client certificate.
// Key material and the token are read from files and never printed.

import type { X509Certificate as X509 } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type * as Net from 'node:net';
import type * as Tls from 'node:tls';
import { pemCertificates, verifyToAnchor } from '../tls/anchor.js';
import { parseFlags, wholeNumber } from './args.js';

// Loaded on first use: a KRM run, which never checks, does not pay for TLS in its cold start.
let tls: typeof Tls;
let net: typeof Net;
let X509Certificate: typeof X509;
async function loadNetworking(): Promise<void> {
  tls ??= await import('node:tls');
  net ??= await import('node:net');
  X509Certificate ??= (await import('node:crypto')).X509Certificate;
}

export const CHECK_HELP = `Usage: ray-tls check HOST:PORT [options]

Connects to a Ray TLS endpoint (GCS 6379, Ray client 10001, raylet ports) like a Ray
gRPC client (TLS, ALPN h2) and reports, one line per fact: whether the port speaks
TLS, the certificate chain it presented, whether the chain verifies against --ca,
whether the certificate names HOST, the expiry of each certificate, and whether the
server refuses clients without a certificate (mTLS). Exit 0 when every check
passed, 1 when one failed, 2 on a usage error or an unreadable file.

Options:
  --ca FILE           PEM CA bundle to verify against (without it the chain is
                      reported as unverified, a failed check)
  --cert FILE         client certificate (PEM) for mTLS; needs --key. Also connects
  --key FILE          with it and reports whether the server accepted it
  --servername NAME   name sent as SNI and checked in the certificate (default HOST)
  --token-file FILE   Ray auth token: read and its presence reported, never printed
                      or sent
  --warn-days N       fail when a certificate expires within N days (default 0:
                      fail only when expired)
  --timeout SECONDS   per connection (default 5)
  --json              print the report as JSON`;

export interface CheckOptions {
  host: string;
  port: number;
  ca?: string;
  cert?: string;
  key?: string;
  servername?: string;
  tokenFile?: string;
  json: boolean;
  warnDays: number;
  timeoutSeconds: number;
}

export interface ChainEntry {
  subject: string;
  issuer: string;
  serial: string;
  sans: string[];
  notBefore: string;
  notAfter: string;
  daysLeft: number;
}

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export interface CheckReport {
  endpoint: string;
  tls: { on: boolean; protocol: string | null; alpn: string | null; error: string | null };
  chain: ChainEntry[];
  verified: { ok: boolean; error: string | null };
  namesHost: { ok: boolean; name: string; error: string | null };
  mtls: { required: boolean | null; detail: string };
  checks: Check[];
  ok: boolean;
}

/** A usage problem found after parsing: an unreadable or unusable file. Exit 2. */
export class CheckInputError extends Error {}

const DAY_MS = 86_400_000;
// After the client's side of the handshake: how long to wait for a TLS 1.3 server's
// late rejection of the client certificate (it arrives after secureConnect).
const SETTLE_MS = 1000;

function parseEndpoint(s: string): { host: string; port: number } | string {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(s) ?? /^([^:[\]]+):(\d+)$/.exec(s);
  if (!m) return `expected HOST:PORT (or [IPv6]:PORT), got ${s}`;
  const port = Number(m[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return `port must be 1-65535, got ${m[2]}`;
  return { host: m[1], port };
}

export function parseCheckArgs(argv: string[]): CheckOptions | string {
  const spec = { type: 'string' } as const;
  const flags = {
    ca: spec,
    cert: spec,
    key: spec,
    servername: spec,
    'token-file': spec,
    'warn-days': spec,
    timeout: spec,
  };
  const parsed = parseFlags(argv, { ...flags, json: { type: 'boolean' } }, true);
  if (typeof parsed === 'string') return parsed;
  const v = parsed.values as Record<string, string | undefined> & { json?: boolean };
  const warnDays = wholeNumber('--warn-days', v['warn-days'] ?? '0', 0, 'days');
  if (typeof warnDays === 'string') return warnDays;
  const timeoutSeconds = Number(v.timeout ?? 5);
  if (!(timeoutSeconds > 0 && timeoutSeconds <= 3600)) {
    return `--timeout must be more than 0 and at most 3600 seconds, got ${v.timeout}`;
  }
  const positional = parsed.positionals;
  if (!positional.length) return 'HOST:PORT is missing';
  if (positional.length > 1) return `one HOST:PORT only, got ${positional.join(' ')}`;
  if (!v.cert !== !v.key) return '--cert and --key go together';
  const endpoint = parseEndpoint(positional[0]);
  if (typeof endpoint === 'string') return endpoint;
  const files = { ca: v.ca, cert: v.cert, key: v.key, servername: v.servername, tokenFile: v['token-file'] };
  const given = Object.fromEntries(Object.entries(files).filter(([, x]) => x !== undefined)) as Partial<CheckOptions>;
  return { ...given, json: v.json ?? false, warnDays, timeoutSeconds, ...endpoint };
}

// ---------------------------------------------------------------------------
// One connection: TCP first (so refused/DNS/timeout are told apart from a peer
// that is not TLS), then the TLS handshake, then a short wait for a rejection.

type Attempt =
  | { kind: 'unreachable'; error: string }
  | { kind: 'not-tls'; error: string }
  | { kind: 'refused'; error: string } // TLS is on, but the handshake ended in an alert
  | {
      kind: 'tls';
      protocol: string | null;
      alpn: string | null;
      chain: X509[];
      authorizationError: string | null;
      // what the server did after the client finished its side of the handshake
      after: { rejected: boolean; detail: string };
    };

interface Material {
  ca?: string;
  cert?: string;
  key?: string;
}

function unreachable(e: NodeJS.ErrnoException, host: string): string {
  if (e.code === 'ECONNREFUSED') return 'connection refused (nothing listens on the port)';
  if (e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN') return `DNS lookup of ${host} failed (${e.code})`;
  if (e.code === 'EHOSTUNREACH' || e.code === 'ENETUNREACH') return `no route to ${host} (${e.code})`;
  return `${e.code ?? 'error'}: ${e.message}`;
}

// OpenSSL says "alert" only for a TLS alert record, i.e. the peer does speak TLS.
const isAlert = (e: NodeJS.ErrnoException) => /alert/i.test(e.code ?? '') || /alert/i.test(e.message);
const alertName = (e: NodeJS.ErrnoException) => {
  const name = /alert ([a-z ]+)/i.exec(e.message)?.[1].trim();
  return name ? `TLS alert "${name}"` : (e.code ?? e.message);
};

// TLS 1.2 servers refuse a missing client certificate inside the handshake with one of these.
const isCertAlert = (a: Attempt) => a.kind === 'refused' && /certificate|handshake failure/i.test(a.error);

function notTls(e: NodeJS.ErrnoException): string {
  if (e.code === 'ECONNRESET' || /disconnected before secure TLS/i.test(e.message)) {
    return 'the peer closed the connection instead of answering the TLS ClientHello';
  }
  return `the peer answered the TLS ClientHello with non-TLS bytes (${e.code ?? e.message})`;
}

// The peer's certificates as Node gives them: when the server sends only its leaf, Node
// completes the chain with the issuer from the trusted --ca, so the root may be ours.
function peerChain(socket: Tls.TLSSocket): X509[] {
  const chain: X509[] = [];
  const seen = new Set<string>();
  // issuerCertificate of a self-signed certificate is itself: stop on a repeat.
  let c: Tls.DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
  for (; c?.raw; c = c.issuerCertificate) {
    if (seen.has(c.fingerprint256)) break;
    seen.add(c.fingerprint256);
    chain.push(new X509Certificate(c.raw));
  }
  return chain;
}

// Node wants a chain up to a self-signed root; Ray's gRPC takes the --ca certificate as the anchor
// even when it is an intermediate (a namespace CA under a corporate root): so does check.
const NO_ISSUER = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
]);
function anchored(error: string, chain: X509[], ca: string | undefined): boolean {
  if (!ca || !NO_ISSUER.has(error)) return false;
  return (
    'anchor' in
    verifyToAnchor(
      chain,
      pemCertificates(ca).map((pem) => new X509Certificate(pem)),
    )
  );
}

function connectOnce(o: CheckOptions, m: Material, withCert: boolean): Promise<Attempt> {
  const timeoutMs = o.timeoutSeconds * 1000;
  const name = o.servername ?? o.host;
  return new Promise((resolve) => {
    let done = false;
    let tcpUp = false;
    let tlsSocket: Tls.TLSSocket | undefined;
    let quietTimer: NodeJS.Timeout | undefined;
    const raw = net.connect({ host: o.host, port: o.port });
    const finish = (a: Attempt) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(quietTimer);
      tlsSocket?.destroy();
      raw.destroy();
      resolve(a);
    };
    const timer = setTimeout(() => {
      const s = o.timeoutSeconds;
      const silent = `TCP connected but no TLS answer within ${s}s (the port waits for a plaintext client)`;
      const slow = `TCP connect timed out after ${s}s`;
      finish(tcpUp ? { kind: 'not-tls', error: silent } : { kind: 'unreachable', error: slow });
    }, timeoutMs);
    // After TCP is up the TLS socket reports the errors; a listener must stay for both.
    raw.on('error', (e) => tcpUp || finish({ kind: 'unreachable', error: unreachable(e, o.host) }));
    raw.once('connect', () => {
      tcpUp = true;
      const socket = tls.connect({
        socket: raw,
        // Sending an IP address as SNI is not allowed (RFC 6066).
        ...(net.isIP(name) ? {} : { servername: name }),
        ALPNProtocols: ['h2'],
        ca: m.ca,
        ...(withCert ? { cert: m.cert, key: m.key } : {}),
        // Verification and the name check are reported, not enforced, and kept apart.
        rejectUnauthorized: false,
        checkServerIdentity: () => undefined,
      });
      tlsSocket = socket;
      let secure = false;
      let session: Extract<Attempt, { kind: 'tls' }> | undefined;
      const settle = (after: { rejected: boolean; detail: string }) => session && finish({ ...session, after });
      socket.on('error', (e: NodeJS.ErrnoException) => {
        if (secure) settle({ rejected: true, detail: `${alertName(e)} after the handshake` });
        else if (isAlert(e)) finish({ kind: 'refused', error: alertName(e) });
        else finish({ kind: 'not-tls', error: notTls(e) });
      });
      socket.once('secureConnect', () => {
        secure = true;
        clearTimeout(timer);
        const err = socket.authorizationError as unknown as string | Error | null;
        const chain = peerChain(socket);
        session = {
          kind: 'tls',
          protocol: socket.getProtocol(),
          alpn: socket.alpnProtocol || null,
          chain,
          authorizationError: err && !anchored(String(err), chain, m.ca) ? String(err) : null,
          after: { rejected: false, detail: '' },
        };
        // A TLS 1.3 server rejects a client certificate (or its absence) only after the
        // client has finished: read until data (accepted), an alert or a close, or quiet.
        socket.on('data', () => settle({ rejected: false, detail: 'the server sent data after the handshake' }));
        const gone = 'the server closed the connection right after the handshake';
        const closed = () => settle({ rejected: true, detail: gone });
        socket.on('end', closed);
        socket.on('close', closed);
        const quiet = Math.min(SETTLE_MS, timeoutMs);
        const open = `the server kept the connection open for ${quiet} ms`;
        quietTimer = setTimeout(() => settle({ rejected: false, detail: open }), quiet);
      });
    });
  });
}

// ---------------------------------------------------------------------------
// The report.

// A certificate may have an empty subject (cert-manager allows it with SANs): Node then gives undefined.
const oneLine = (dn: string | undefined) => (dn ?? '').split('\n').join(', ');
const day = (d: Date) => d.toISOString().slice(0, 10);

function chainEntry(c: X509, now: number): ChainEntry {
  const notAfter = new Date(c.validTo);
  return {
    subject: oneLine(c.subject),
    issuer: oneLine(c.issuer),
    serial: c.serialNumber,
    sans: c.subjectAltName ? c.subjectAltName.split(', ') : [],
    notBefore: new Date(c.validFrom).toISOString(),
    notAfter: notAfter.toISOString(),
    daysLeft: Math.floor((notAfter.getTime() - now) / DAY_MS),
  };
}

// OpenSSL's verify codes, in words, for the ones a Ray operator meets.
const VERIFY_WORDS: Record<string, string> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'no certificate in the CA bundle issued the server certificate',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'the issuer is not in the CA bundle',
  SELF_SIGNED_CERT_IN_CHAIN: 'the chain ends in a self-signed CA that is not in the CA bundle',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the server certificate is self-signed',
  CERT_HAS_EXPIRED: 'a certificate in the chain has expired',
  CERT_NOT_YET_VALID: 'a certificate in the chain is not valid yet',
};
const verifyWords = (code: string) => (VERIFY_WORDS[code] ? `${code} (${VERIFY_WORDS[code]})` : code);

function readInput(flag: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new CheckInputError(`cannot read ${flag} ${file}: ${why}`);
  }
}

function readMaterial(o: CheckOptions): Material {
  const m: Material = {};
  if (o.ca) {
    m.ca = readInput('--ca', o.ca);
    const pem = m.ca.includes('-----BEGIN CERTIFICATE-----');
    if (!pem) throw new CheckInputError(`--ca ${o.ca} holds no PEM certificate`);
  }
  if (o.cert && o.key) {
    m.cert = readInput('--cert', o.cert);
    m.key = readInput('--key', o.key);
  }
  try {
    tls.createSecureContext({ ca: m.ca, cert: m.cert, key: m.key });
  } catch (e) {
    // OpenSSL's message names the problem (e.g. key values mismatch), never the key.
    throw new CheckInputError(`unusable --ca/--cert/--key: ${(e as Error).message}`);
  }
  return m;
}

function tokenCheck(file: string): Check {
  const token = readInput('--token-file', file).trim();
  return token
    ? { name: 'token', ok: true, detail: `Ray auth token present in ${file} (not sent, not printed)` }
    : { name: 'token', ok: false, detail: `token file ${file} is empty` };
}

function emptyReport(o: CheckOptions): CheckReport {
  return {
    endpoint: `${net.isIPv6(o.host) ? `[${o.host}]` : o.host}:${o.port}`,
    tls: { on: false, protocol: null, alpn: null, error: null },
    chain: [],
    verified: { ok: false, error: 'not checked' },
    namesHost: { ok: false, name: o.servername ?? o.host, error: 'not checked' },
    mtls: { required: null, detail: 'not checked' },
    checks: [],
    ok: false,
  };
}

/** Reads the files, connects (without and, with --cert, with a client certificate), reports. */
export async function checkEndpoint(o: CheckOptions): Promise<CheckReport> {
  await loadNetworking();
  const m = readMaterial(o);
  const token = o.tokenFile ? tokenCheck(o.tokenFile) : undefined;
  const r = emptyReport(o);
  const add = (name: string, ok: boolean, detail: string) => r.checks.push({ name, ok, detail });
  const finish = () => {
    if (token) r.checks.push(token);
    r.ok = r.checks.every((c) => c.ok);
    return r;
  };

  const bare = await connectOnce(o, m, false);
  if (bare.kind === 'unreachable') {
    r.tls.error = bare.error;
    add('connect', false, `cannot connect to ${r.endpoint}: ${bare.error}`);
    return finish();
  }
  add('connect', true, `TCP connect to ${r.endpoint}`);
  if (bare.kind === 'not-tls') {
    r.tls.error = bare.error;
    add('tls', false, `TLS is off: ${bare.error}`);
    return finish();
  }
  const withCert = m.cert ? await connectOnce(o, m, true) : undefined;
  const session = bare.kind === 'tls' ? bare : withCert?.kind === 'tls' ? withCert : undefined;

  r.tls.on = true;
  if (session) {
    r.tls.protocol = session.protocol;
    r.tls.alpn = session.alpn;
    add('tls', true, `TLS: ${session.protocol ?? 'unknown version'}, ALPN ${session.alpn ?? 'none (gRPC needs h2)'}`);
  } else {
    r.tls.error = bare.kind === 'refused' ? `handshake failed: ${bare.error}` : 'handshake failed';
    const wantsCert = !m.cert && isCertAlert(bare);
    const hint = wantsCert ? ' (if the server wants a client certificate: pass --cert and --key)' : '';
    add('tls', false, `TLS is on, but no handshake completed: ${r.tls.error}${hint}`);
  }
  if (session) peerChecks(o, r, session, add);
  mtlsChecks(r, bare, withCert, o.cert, add);
  return finish();
}

type Add = (name: string, ok: boolean, detail: string) => void;

function peerChecks(o: CheckOptions, r: CheckReport, s: Extract<Attempt, { kind: 'tls' }>, add: Add): void {
  const now = Date.now();
  r.chain = s.chain.map((c) => chainEntry(c, now));
  const n = `${s.chain.length} certificate${s.chain.length === 1 ? '' : 's'}`;
  const verifyError = s.authorizationError && verifyWords(s.authorizationError);
  const error = o.ca ? verifyError : 'no --ca given: the chain was not verified';
  r.verified = { ok: !error, error };
  if (!error) add('verified', true, `chain verifies against ${o.ca} (${n})`);
  else if (o.ca) add('verified', false, `chain (${n}) does not verify against ${o.ca}: ${error}`);
  else add('verified', false, `chain (${n}) unverified: ${error}`);

  const leaf = s.chain[0];
  const name = r.namesHost.name;
  const mismatch = leaf ? tls.checkServerIdentity(name, leaf.toLegacyObject()) : new Error('no certificate');
  r.namesHost = { ok: !mismatch, name, error: mismatch ? mismatch.message : null };
  if (mismatch) add('namesHost', false, `certificate does not name ${name}: ${mismatch.message}`);
  else add('namesHost', true, `certificate names ${name}`);

  // Within N days: fewer than N days of validity left (0: expired).
  for (const c of r.chain) {
    const left = new Date(c.notAfter).getTime() - now;
    const ok = left >= o.warnDays * DAY_MS && left > 0;
    const when = left > 0 ? `${c.daysLeft} days left` : `expired ${Math.ceil(-left / DAY_MS)} days ago`;
    const limit = ok || left <= 0 ? '' : `, within --warn-days ${o.warnDays}`;
    add('expiry', ok, `expires ${day(new Date(c.notAfter))} (${when}${limit}): ${c.subject}`);
  }
}

/** mTLS from the connection without a client certificate; the one with --cert, if any, on its own line. */
function mtlsChecks(r: CheckReport, bare: Attempt, withCert: Attempt | undefined, certFile = '', add: Add) {
  // Other alerts in the handshake (e.g. no h2) say nothing about client certificates.
  if (bare.kind === 'refused') {
    r.mtls = isCertAlert(bare)
      ? { required: true, detail: `the handshake failed with ${bare.error}` }
      : { required: null, detail: `unknown: the handshake failed with ${bare.error}` };
  } else if (bare.kind === 'tls') r.mtls = { required: bare.after.rejected, detail: bare.after.detail };
  const { required, detail } = r.mtls;
  if (required === null) add('mtls', false, `mTLS ${detail}`);
  else if (required) add('mtls', true, `mTLS on: the server refused a client without a certificate (${detail})`);
  else if (required === false) {
    add('mtls', false, `mTLS off: the server accepted a client without a certificate (${detail})`);
  }
  if (!withCert) return;
  if (withCert.kind === 'tls' && !withCert.after.rejected) {
    add('clientCert', true, `the handshake with the client certificate ${certFile} succeeded`);
  } else if (withCert.kind === 'tls') {
    add('clientCert', false, `the server refused the client certificate ${certFile}: ${withCert.after.detail}`);
  } else {
    add('clientCert', false, `the handshake with the client certificate ${certFile} failed: ${withCert.error}`);
  }
}

export function formatReport(r: CheckReport): string {
  const lines: string[] = [];
  for (const c of r.checks) {
    lines.push(`${c.ok ? 'ok  ' : 'FAIL'}  ${c.detail}`);
    if (c.name !== 'tls') continue;
    // The chain right after the TLS line: facts, not checks.
    r.chain.forEach((e, i) => {
      const sans = e.sans.length ? e.sans.join(', ') : 'none';
      lines.push(`      [${i}] ${e.subject}; issuer ${e.issuer}; serial ${e.serial}; SANs ${sans}`);
    });
  }
  const failed = r.checks.filter((c) => !c.ok).length;
  lines.push(
    failed
      ? `FAIL  ${r.endpoint}: ${failed} of ${r.checks.length} check${r.checks.length === 1 ? '' : 's'} failed`
      : `ok    ${r.endpoint}: all ${r.checks.length} checks passed`,
  );
  return lines.join('\n');
}

export async function checkCommand(
  argv: string[],
  out: { stdout: (s: string) => void; stderr: (s: string) => void },
): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    out.stdout(`${CHECK_HELP}\n`);
    return 0;
  }
  const o = parseCheckArgs(argv);
  if (typeof o === 'string') {
    out.stderr(`error: ${o}\n\n${CHECK_HELP}\n`);
    return 2;
  }
  let r: CheckReport;
  try {
    r = await checkEndpoint(o);
  } catch (e) {
    if (!(e instanceof CheckInputError)) throw e;
    out.stderr(`error: ${e.message}\n`);
    return 2;
  }
  out.stdout(`${o.json ? JSON.stringify(r, null, 2) : formatReport(r)}\n`);
  return r.ok ? 0 : 1;
}
