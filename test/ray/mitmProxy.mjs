// An active man in the middle for the real-Ray negative test (mitm.e2e.test.ts), run with
// plain `node` in its own local pod. It listens where the worker is told `ray-head` is and:
//   downstream: terminates the worker's TLS connection with a server certificate from ANOTHER
//     CA that names ray-head (all its Service names) and the addresses involved;
//   upstream: for every connection it accepts, connects onward to the real head with a client
//     certificate from that other CA (not verifying the head: a MITM does not care), speaks
//     the HTTP/2 preface gRPC would, and reports what the head answers.
// Had both sides accepted, it would relay bytes both ways. Every event is one line on stdout:
//   MITM {"event": ..., ...}
// Env: MITM_TLS_DIR (tls.crt, tls.key), MITM_LISTEN_PORT, MITM_UPSTREAM (host:port),
// MITM_SERVERNAME (SNI for the upstream).
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';

const dir = process.env.MITM_TLS_DIR ?? '/etc/mitm';
const key = readFileSync(`${dir}/tls.key`);
const cert = readFileSync(`${dir}/tls.crt`);
const listenPort = Number(process.env.MITM_LISTEN_PORT ?? 6379);
const [upHost, upPortText] = (process.env.MITM_UPSTREAM ?? 'ray-head:6379').split(':');
const upPort = Number(upPortText);
const servername = process.env.MITM_SERVERNAME ?? upHost;

const log = (event, fields = {}) => console.log(`MITM ${JSON.stringify({ event, ...fields })}`);
const peerOf = (s) => `${s.remoteAddress?.replace(/^::ffff:/, '')}:${s.remotePort}`;
const errorFields = (e) => ({ code: e.code, reason: e.reason, message: e.message, library: e.library });

// The HTTP/2 connection preface and an empty SETTINGS frame, as a gRPC client sends first.
const H2_PREFACE = Buffer.concat([
  Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
  Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]),
]);

/** To the real head, presenting the other CA's client certificate; the head's verdict is what we record. */
function connectUpstream() {
  return tls.connect({
    host: upHost,
    port: upPort,
    servername,
    key,
    cert,
    ALPNProtocols: ['h2'],
    rejectUnauthorized: false,
  });
}

/** Connects onward to the real head with the other CA's client certificate. */
function upstream(forPeer) {
  let done = false;
  const report = (fields) => {
    if (done) return;
    done = true;
    log('upstream', { for: forPeer, target: `${upHost}:${upPort}`, ...fields });
  };
  const up = connectUpstream();
  let handshake = false;
  up.setTimeout(15_000, () => {
    report({ accepted: false, stage: handshake ? 'after-handshake' : 'handshake', error: 'no answer within 15 s' });
    up.destroy();
  });
  up.on('secureConnect', () => {
    handshake = true;
    log('upstreamHandshake', {
      for: forPeer,
      protocol: up.getProtocol(),
      alpn: up.alpnProtocol,
      headCertSubject: up.getPeerCertificate()?.subject?.CN,
    });
    up.write(H2_PREFACE);
  });
  up.on('data', (d) => {
    // The head answered HTTP/2 frames: it accepted the other CA's client certificate.
    report({ accepted: true, stage: 'application data', bytes: d.length });
    up.destroy();
  });
  up.on('error', (e) =>
    report({ accepted: false, stage: handshake ? 'after-handshake' : 'handshake', ...errorFields(e) }),
  );
  up.on('close', () =>
    report({ accepted: false, stage: handshake ? 'after-handshake' : 'handshake', error: 'closed without an answer' }),
  );
  return up;
}

// The TLS server side by hand on each accepted socket, so every outcome is tied to its peer.
const context = tls.createSecureContext({ key, cert });
const server = net.createServer((raw) => {
  const peer = peerOf(raw);
  log('accepted', { peer });
  upstream(peer); // connect onward at once, like a relay would
  const down = new tls.TLSSocket(raw, { isServer: true, secureContext: context, ALPNProtocols: ['h2'] });
  let secure = false;
  down.on('secure', () => {
    // The worker accepted the other CA's certificate: the interception worked. Relay.
    secure = true;
    log('downstreamAccepted', { peer, protocol: down.getProtocol(), alpn: down.alpnProtocol });
    const up = connectUpstream();
    down.pipe(up).pipe(down);
    up.on('error', () => down.destroy());
  });
  // The handshake failed: an alert from the worker shows as an error ERR_SSL_TLSV1_ALERT_*; a
  // close without any alert as a close before 'secure'. bytesFromPeer: all the worker sent
  // (its ClientHello alone is about 517 bytes: no Finished, no alert after it).
  let reported = false;
  const failed = (fields) => {
    if (secure || reported) return;
    reported = true;
    log('tlsClientError', { peer, ...fields, bytesFromPeer: raw.bytesRead });
  };
  down.on('error', (e) => {
    failed(errorFields(e));
    down.destroy();
  });
  down.on('close', () => failed({ error: 'the peer closed the connection mid-handshake, without a TLS alert' }));
});
server.on('error', (e) => log('serverError', errorFields(e)));
server.listen(listenPort, '0.0.0.0', () => log('listening', { port: listenPort, upstream: `${upHost}:${upPort}` }));
