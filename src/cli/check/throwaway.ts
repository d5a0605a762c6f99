// A throwaway self-signed client certificate, made in memory for each `check`: a server
// that accepts it accepts a client from any CA, which is not mTLS. Node has no X.509
// writer, so the certificate is assembled here in DER (RFC 5280, the fields it needs).
import type * as Crypto from 'node:crypto';

const der = (tag: number, ...parts: Buffer[]): Buffer => {
  const body = Buffer.concat(parts);
  const n = body.length;
  const length = n < 0x80 ? [n] : [0x80 | Math.ceil(n.toString(16).length / 2), ...lengthBytes(n)];
  return Buffer.concat([Buffer.from([tag, ...length]), body]);
};
const lengthBytes = (n: number): number[] => (n ? [...lengthBytes(Math.floor(n / 256)), n % 256] : []);
const seq = (...parts: Buffer[]) => der(0x30, ...parts);
const integer = (b: Buffer) => der(0x02, b[0] & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);

function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const base128 = (n: number): number[] => {
    const out = [n & 0x7f];
    for (let v = Math.floor(n / 128); v; v = Math.floor(v / 128)) out.unshift((v & 0x7f) | 0x80);
    return out;
  };
  return der(0x06, Buffer.from([40 * a + b, ...rest.flatMap(base128)]));
}

// UTCTime, YYMMDDHHMMSSZ (good until 2049).
const utcTime = (d: Date) => der(0x17, Buffer.from(`${d.toISOString().slice(2, 19).replace(/[-T:]/g, '')}Z`));
const commonName = (cn: string) => seq(der(0x31, seq(oid('2.5.4.3'), der(0x0c, Buffer.from(cn)))));
const ECDSA_SHA256 = () => seq(oid('1.2.840.10045.4.3.2'));

const pem = (label: string, body: Buffer) =>
  `-----BEGIN ${label}-----\n${body
    .toString('base64')
    .match(/.{1,64}/g)
    ?.join('\n')}\n-----END ${label}-----\n`;

/** A P-256 key and a v3 self-signed certificate for it, valid for an hour, as PEM. */
export function throwawayClient(crypto: typeof Crypto): { cert: string; key: string } {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const serial = crypto.randomBytes(16);
  serial[0] = (serial[0] & 0x7f) | 0x01;
  const now = Date.now();
  const name = commonName('ray-tls check throwaway client');
  const tbs = seq(
    der(0xa0, integer(Buffer.from([2]))),
    integer(serial),
    ECDSA_SHA256(),
    name,
    seq(utcTime(new Date(now - 300_000)), utcTime(new Date(now + 3_600_000))),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
  );
  const signature = crypto.sign('sha256', tbs, privateKey);
  const cert = seq(tbs, ECDSA_SHA256(), der(0x03, Buffer.from([0]), signature));
  return { cert: pem('CERTIFICATE', cert), key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}
