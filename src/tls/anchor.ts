// Chain verification with an intermediate as the trust anchor, as Ray's gRPC (BoringSSL, partial
// chains allowed) does it (docs/design.md §5.5). Node's TLS has no such switch: it wants a chain up to
// a self-signed root, so a pod's ca.crt (its namespace CA alone, trust.ts) would never verify.
import type { X509Certificate } from 'node:crypto';

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const PEM = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The PEM certificates of a bundle, in order. */
export const pemCertificates = (bundle: string): string[] => bundle.match(PEM) ?? [];

const signedBy = (c: X509Certificate, issuer: X509Certificate): boolean =>
  c.checkIssued(issuer) && c.verify(issuer.publicKey);

function validNow(c: X509Certificate, now: number): string | undefined {
  if (now < Date.parse(c.validFrom)) return `CERT_NOT_YET_VALID (serial ${c.serialNumber})`;
  if (now > Date.parse(c.validTo)) return `CERT_HAS_EXPIRED (serial ${c.serialNumber})`;
  return undefined;
}

/**
 * Walks the presented chain from the leaf until a certificate is signed by one of `anchors`
 * (each link signed by the next, which must be a CA, everything within its validity).
 * Returns the anchor reached, or the reason none was.
 */
export function verifyToAnchor(
  chain: X509Certificate[],
  anchors: X509Certificate[],
  now = Date.now(),
): { anchor: X509Certificate } | { error: string } {
  let current = chain[0];
  if (!current) return { error: 'no certificate presented' };
  // As Node's own check: a leaf that names its purposes must name server auth.
  const purposes = current.keyUsage;
  if (purposes?.length && !purposes.includes(SERVER_AUTH)) return { error: 'INVALID_PURPOSE (no server auth)' };
  for (let depth = 0; depth <= chain.length; depth++) {
    const invalid = validNow(current, now);
    if (invalid) return { error: invalid };
    const anchor = anchors.find((a) => a.ca && signedBy(current!, a));
    if (anchor) return validNow(anchor, now) ? { error: validNow(anchor, now)! } : { anchor };
    const next: X509Certificate | undefined = chain.find((c) => c !== current && c.ca && signedBy(current!, c));
    if (!next) return { error: 'UNABLE_TO_GET_ISSUER_CERT (no trusted CA certificate issued the chain)' };
    current = next;
  }
  return { error: 'the chain does not end' };
}
