// From observations (probe.ts) to verdicts: pure, no I/O, so every judgement is testable
// with made-up observations.
// mTLS is "on" only when it is proven: a client without a certificate and a client with a
// throwaway self-signed certificate are refused while the right certificate is served (the
// server speaks after that handshake). A server that refuses everyone looks like mTLS to
// the first two clients: without the third, or when it is refused too, mTLS is "unknown".

import type { X509Certificate as X509 } from 'node:crypto';
import type { Attempt, Handshake, Observations } from './probe.js';

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

/** How the server treated one client: served (spoke), silent, refused, or failed for another reason. */
export interface Treatment {
  outcome: 'served' | 'silent' | 'refused' | 'failed';
  detail: string;
}

export interface Mtls {
  state: 'on' | 'off' | 'unknown';
  /** why, in words */
  detail: string;
  noCert: Treatment;
  selfSigned: Treatment | null;
  clientCert: Treatment | null;
}

export interface CheckReport {
  endpoint: string;
  tls: { on: boolean; protocol: string | null; alpn: string | null; error: string | null };
  chain: ChainEntry[];
  verified: { ok: boolean; error: string | null };
  namesHost: { ok: boolean; name: string; error: string | null };
  mtls: Mtls;
  checks: Check[];
  ok: boolean;
}

/** What the judgement needs besides the observations. */
export interface Context {
  endpoint: string;
  name: string;
  caFile?: string;
  certFile?: string;
  warnDays: number;
  now: number;
  token?: Check;
}

const DAY_MS = 86_400_000;
// A certificate may have an empty subject (cert-manager allows it with SANs): Node then gives undefined.
const oneLine = (dn: string | undefined) => (dn ?? '').split('\n').join(', ');
const day = (d: Date) => d.toISOString().slice(0, 10);
const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;

export function chainEntry(c: X509, now: number): ChainEntry {
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

// A refusal about client certificates: TLS 1.2 refuses inside the handshake with one of these alerts.
const CERT_ALERT = /certificate|handshake failure|unknown ca/i;

/** How the server treated a client, from its attempt. */
export function treatment(a: Attempt | undefined): Treatment | null {
  if (!a) return null;
  if (a.kind === 'tls') return { outcome: a.after.kind, detail: a.after.detail };
  if (a.kind === 'closed') return { outcome: 'refused', detail: a.error };
  if (a.kind === 'alert' && CERT_ALERT.test(a.error)) {
    return { outcome: 'refused', detail: `the handshake failed with ${a.error}` };
  }
  const why = a.kind === 'alert' ? `the handshake failed with ${a.error}` : a.error;
  return { outcome: 'failed', detail: why };
}

const accepted = (t: Treatment | null) => t?.outcome === 'served' || t?.outcome === 'silent';

/** The mTLS verdict from the three clients (see the top of this file). */
export function judgeMtls(o: Observations, certFile = '--cert'): Mtls {
  const noCert = treatment(o.bare) as Treatment;
  const selfSigned = treatment(o.selfSigned);
  const clientCert = treatment(o.withCert);
  const base = { noCert, selfSigned, clientCert };
  if (accepted(noCert)) {
    return { state: 'off', detail: `the server accepted a client without a certificate (${noCert.detail})`, ...base };
  }
  if (selfSigned && accepted(selfSigned)) {
    const detail = `the server accepted a throwaway self-signed client certificate, i.e. any CA (${selfSigned.detail})`;
    return { state: 'off', detail, ...base };
  }
  if (noCert.outcome !== 'refused') return { state: 'unknown', detail: `unknown: ${noCert.detail}`, ...base };
  if (selfSigned?.outcome !== 'refused') {
    return {
      state: 'unknown',
      detail: `unknown: the self-signed client: ${selfSigned?.detail ?? 'not tried'}`,
      ...base,
    };
  }
  const both =
    `a client without a certificate (${noCert.detail}) and one with a self-signed certificate ` +
    `(${selfSigned.detail})`;
  if (!clientCert) {
    const detail =
      `unknown: the server refused ${both}; without --cert/--key it cannot be told from a server that refuses ` +
      'every client';
    return { state: 'unknown', detail, ...base };
  }
  if (clientCert.outcome === 'served') {
    return { state: 'on', detail: `the server refused ${both}, and served ${certFile}`, ...base };
  }
  const detail = `unknown: the server refused ${both}, but did not serve ${certFile} either (${clientCert.detail})`;
  return { state: 'unknown', detail, ...base };
}

/** Whether the leaf names `name` (an IP address SAN for an address, a DNS name otherwise). */
export function namesHost(leaf: X509 | undefined, name: string): string | null {
  if (!leaf) return 'no certificate';
  const ip = /^[\d.]+$/.test(name) || name.includes(':');
  const found = ip ? leaf.checkIP(name) : leaf.checkHost(name);
  return found
    ? null
    : `the certificate's names are ${leaf.subjectAltName ?? `only its subject ${oneLine(leaf.subject)}`}`;
}

type Add = (name: string, ok: boolean, detail: string) => void;

function peerChecks(c: Context, r: CheckReport, s: Handshake, add: Add): void {
  r.chain = s.chain.map((x) => chainEntry(x, c.now));
  const n = plural(s.chain.length, 'certificate');
  const error = c.caFile
    ? s.authorizationError && verifyWords(s.authorizationError)
    : 'no --ca given: the chain was not verified';
  r.verified = { ok: !error, error };
  if (!error) add('verified', true, `chain verifies against ${c.caFile} (${n})`);
  else if (c.caFile) add('verified', false, `chain (${n}) does not verify against ${c.caFile}: ${error}`);
  else add('verified', false, `chain (${n}) unverified: ${error}`);

  const mismatch = namesHost(s.chain[0], c.name);
  r.namesHost = { ok: !mismatch, name: c.name, error: mismatch };
  if (mismatch) add('namesHost', false, `certificate does not name ${c.name}: ${mismatch}`);
  else add('namesHost', true, `certificate names ${c.name}`);

  // Within N days: fewer than N days of validity left (0: expired).
  for (const e of r.chain) {
    const left = new Date(e.notAfter).getTime() - c.now;
    const ok = left >= c.warnDays * DAY_MS && left > 0;
    const when = left > 0 ? `${e.daysLeft} days left` : `expired ${Math.ceil(-left / DAY_MS)} days ago`;
    const limit = ok || left <= 0 ? '' : `, within --warn-days ${c.warnDays}`;
    add('expiry', ok, `expires ${day(new Date(e.notAfter))} (${when}${limit}): ${e.subject}`);
  }
}

function mtlsChecks(c: Context, r: CheckReport, o: Observations, add: Add): void {
  r.mtls = judgeMtls(o, c.certFile);
  const { state, detail, clientCert } = r.mtls;
  add('mtls', state === 'on', state === 'unknown' ? `mTLS ${detail}` : `mTLS ${state}: ${detail}`);
  if (!clientCert) return;
  if (clientCert.outcome === 'served') {
    add('clientCert', true, `the handshake with the client certificate ${c.certFile} succeeded: ${clientCert.detail}`);
  } else if (o.withCert?.kind === 'tls') {
    add('clientCert', false, `the server did not serve the client certificate ${c.certFile}: ${clientCert.detail}`);
  } else {
    add('clientCert', false, `the handshake with the client certificate ${c.certFile} failed: ${clientCert.detail}`);
  }
}

function emptyReport(c: Context): CheckReport {
  const notChecked: Treatment = { outcome: 'failed', detail: 'not checked' };
  return {
    endpoint: c.endpoint,
    tls: { on: false, protocol: null, alpn: null, error: null },
    chain: [],
    verified: { ok: false, error: 'not checked' },
    namesHost: { ok: false, name: c.name, error: 'not checked' },
    mtls: { state: 'unknown', detail: 'not checked', noCert: notChecked, selfSigned: null, clientCert: null },
    checks: [],
    ok: false,
  };
}

/** The report: one check per fact, in the order they are printed. */
export function judge(o: Observations, c: Context): CheckReport {
  const r = emptyReport(c);
  const add: Add = (name, ok, detail) => r.checks.push({ name, ok, detail });
  const { bare } = o;
  if (bare.kind === 'unreachable') {
    r.tls.error = bare.error;
    add('connect', false, `cannot connect to ${r.endpoint}: ${bare.error}`);
  } else {
    add('connect', true, `TCP connect to ${r.endpoint}`);
    if (bare.kind === 'not-tls') {
      r.tls.error = bare.error;
      add('tls', false, `TLS is off: ${bare.error}`);
    } else tlsChecks(c, r, o, add);
  }
  if (c.token) r.checks.push(c.token);
  r.ok = r.checks.every((x) => x.ok);
  return r;
}

function tlsChecks(c: Context, r: CheckReport, o: Observations, add: Add): void {
  const session = [o.bare, o.withCert, o.selfSigned].find((a): a is Handshake => a?.kind === 'tls');
  r.tls.on = true;
  if (session) {
    r.tls.protocol = session.protocol;
    r.tls.alpn = session.alpn;
    add('tls', true, `TLS: ${session.protocol ?? 'unknown version'}, ALPN ${session.alpn ?? 'none (gRPC needs h2)'}`);
    peerChecks(c, r, session, add);
  } else {
    const bare = o.bare as Extract<Attempt, { error: string }>;
    r.tls.error = `handshake failed: ${bare.error}`;
    const wantsCert = !c.certFile && treatment(bare)?.outcome === 'refused';
    const hint = wantsCert ? ' (if the server wants a client certificate: pass --cert and --key)' : '';
    add('tls', false, `TLS is on, but no handshake completed: ${r.tls.error}${hint}`);
  }
  mtlsChecks(c, r, o, add);
}
