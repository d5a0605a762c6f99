// The only I/O of `ray-tls check`: TCP and TLS connections to the endpoint, each one
// recorded as what happened (observations), not what it means (judge.ts).
// One connection: TCP first (so refused/DNS/timeout are told apart from a peer that is not
// TLS), then the TLS handshake, then whatever the server does next: a gRPC server speaks
// first (its HTTP/2 SETTINGS frame); BoringSSL refuses a client certificate by closing
// (no alert), a TLS 1.3 OpenSSL server by an alert after the client's side of the handshake.

import type { X509Certificate as X509 } from 'node:crypto';
import type * as Net from 'node:net';
import type * as Tls from 'node:tls';
import { pemCertificates, verifyToAnchor } from '../../tls/anchor.js';
import { throwawayClient } from './throwaway.js';

// Loaded on first use: a KRM run, which never checks, does not pay for TLS in its cold start.
let tls: typeof Tls;
let net: typeof Net;
let crypto: typeof import('node:crypto');
async function loadNetworking(): Promise<void> {
  tls ??= await import('node:tls');
  net ??= await import('node:net');
  crypto ??= await import('node:crypto');
}

export interface Target {
  host: string;
  port: number;
  /** sent as SNI (unless an IP address) */
  servername: string;
  timeoutMs: number;
}

export interface Credentials {
  ca?: string;
  cert?: string;
  key?: string;
}

/** What the server did once the client had finished its side of the handshake. */
export type After =
  | { kind: 'served'; detail: string } // it spoke: the connection is in use
  | { kind: 'refused'; detail: string } // an alert or a close before a byte of data
  | { kind: 'silent'; detail: string }; // neither within the settle time

export interface Handshake {
  kind: 'tls';
  protocol: string | null;
  alpn: string | null;
  chain: X509[];
  authorizationError: string | null;
  after: After;
}

export type Attempt =
  | { kind: 'unreachable'; error: string }
  | { kind: 'not-tls'; error: string }
  | { kind: 'alert'; error: string } // TLS is on, the handshake ended in a TLS alert
  | { kind: 'closed'; error: string } // TLS is on (the server answered), it closed mid-handshake
  | Handshake;

/** One attempt per client: without a certificate, with a throwaway self-signed one, with --cert. */
export interface Observations {
  bare: Attempt;
  selfSigned?: Attempt;
  withCert?: Attempt;
}

// After the client's side of the handshake: how long to wait for the server to speak or refuse.
const SETTLE_MS = 1000;

/** Connects as each client in turn; stops after the first when nothing speaks TLS there. */
export async function probe(t: Target, m: Credentials): Promise<Observations> {
  await loadNetworking();
  const bare = await attempt(t, { ca: m.ca });
  if (bare.kind === 'unreachable' || bare.kind === 'not-tls') return { bare };
  const selfSigned = await attempt(t, { ca: m.ca, ...throwawayClient(crypto) });
  if (!m.cert) return { bare, selfSigned };
  return { bare, selfSigned, withCert: await attempt(t, m) };
}

const isIP = (host: string) => net.isIP(host) !== 0;

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
const isClose = (e: NodeJS.ErrnoException) =>
  e.code === 'ECONNRESET' || /disconnected before secure TLS/i.test(e.message);

/** A handshake that failed: by an alert, by a close after the server's TLS answer, or not TLS at all. */
function failedHandshake(e: NodeJS.ErrnoException, raw: Net.Socket): Attempt {
  if (isAlert(e)) return { kind: 'alert', error: alertName(e) };
  if (isClose(e) && raw.bytesRead > 0) {
    return { kind: 'closed', error: 'the server closed the connection during the handshake, without an alert' };
  }
  if (isClose(e))
    return { kind: 'not-tls', error: 'the peer closed the connection instead of answering the TLS ClientHello' };
  return {
    kind: 'not-tls',
    error: `the peer answered the TLS ClientHello with non-TLS bytes (${e.code ?? e.message})`,
  };
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
    chain.push(new crypto.X509Certificate(c.raw));
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
      pemCertificates(ca).map((pem) => new crypto.X509Certificate(pem)),
    )
  );
}

/** What the client saw of the handshake; `after` is filled in once the server has acted. */
function sessionOf(socket: Tls.TLSSocket, ca: string | undefined): Handshake {
  const err = socket.authorizationError as unknown as string | Error | null;
  const chain = peerChain(socket);
  return {
    kind: 'tls',
    protocol: socket.getProtocol(),
    alpn: socket.alpnProtocol || null,
    chain,
    authorizationError: err && !anchored(String(err), chain, ca) ? String(err) : null,
    after: { kind: 'silent', detail: '' },
  };
}

function timedOut(t: Target, tcpUp: boolean): Attempt {
  const s = t.timeoutMs / 1000;
  return tcpUp
    ? { kind: 'not-tls', error: `TCP connected but no TLS answer within ${s}s (the port waits for a plaintext client)` }
    : { kind: 'unreachable', error: `TCP connect timed out after ${s}s` };
}

function attempt(t: Target, c: Credentials): Promise<Attempt> {
  return new Promise((resolve) => {
    let done = false;
    let tcpUp = false;
    const timers: NodeJS.Timeout[] = [];
    const sockets: Net.Socket[] = [net.connect({ host: t.host, port: t.port })];
    const finish = (a: Attempt) => {
      if (done) return;
      done = true;
      for (const timer of timers) clearTimeout(timer);
      for (const s of sockets) s.destroy();
      resolve(a);
    };
    const raw = sockets[0];
    timers.push(setTimeout(() => finish(timedOut(t, tcpUp)), t.timeoutMs));
    // After TCP is up the TLS socket reports the errors; a listener must stay for both.
    raw.on('error', (e) => tcpUp || finish({ kind: 'unreachable', error: unreachable(e, t.host) }));
    raw.once('connect', () => {
      tcpUp = true;
      sockets.push(handshake(t, c, raw, finish, timers));
    });
  });
}

function handshake(
  t: Target,
  c: Credentials,
  raw: Net.Socket,
  finish: (a: Attempt) => void,
  timers: NodeJS.Timeout[],
): Tls.TLSSocket {
  const socket = tls.connect({
    socket: raw,
    // Sending an IP address as SNI is not allowed (RFC 6066).
    ...(isIP(t.servername) ? {} : { servername: t.servername }),
    ALPNProtocols: ['h2'],
    ...c,
    // Verification and the name check are judged, not enforced, and kept apart.
    rejectUnauthorized: false,
    checkServerIdentity: () => undefined,
  });
  let session: Handshake | undefined;
  const settle = (after: After) => session && finish({ ...session, after });
  socket.on('error', (e: NodeJS.ErrnoException) => {
    if (session) settle({ kind: 'refused', detail: `${alertName(e)} after the handshake` });
    else finish(failedHandshake(e, raw));
  });
  socket.once('secureConnect', () => {
    clearTimeout(timers[0]);
    session = sessionOf(socket, c.ca);
    socket.on('data', () => settle({ kind: 'served', detail: 'the server spoke after the handshake' }));
    const closed = () =>
      settle({ kind: 'refused', detail: 'the server closed the connection right after the handshake' });
    socket.on('end', closed);
    socket.on('close', closed);
    const quiet = Math.min(SETTLE_MS, t.timeoutMs);
    timers.push(setTimeout(() => settle({ kind: 'silent', detail: `the server said nothing for ${quiet} ms` }), quiet));
  });
  return socket;
}
