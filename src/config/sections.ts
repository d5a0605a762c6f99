// The config's nested sections, each read on its own: the key, the CA (and its rotation
// rules), token authentication, the client selector.
import type { IssuerRef, KeyAlgorithm } from '../tls/settings.js';
import { type Config, DEFAULTS } from './config.js';
import { duration, durationHours, NAME, type Raw, type Reader, secretName } from './reader.js';

const KEY_SIZES: Record<KeyAlgorithm, number[]> = { RSA: [2048, 3072, 4096, 8192], ECDSA: [256, 384, 521] };

export function readPrivateKey(r: Reader, spec: Raw): Config['privateKey'] {
  const pk = r.object(spec, 'privateKey', '') ?? {};
  r.unknown(pk, ['algorithm', 'size'], 'privateKey.');
  const algorithm = (r.string(pk, 'algorithm', 'privateKey.', (v) =>
    v === 'RSA' || v === 'ECDSA' ? undefined : `"${v}" is not supported; use RSA or ECDSA`,
  ) ?? DEFAULTS.privateKey.algorithm) as KeyAlgorithm;
  const size = r.number(pk, 'size', 'privateKey.') ?? (algorithm === 'RSA' ? 4096 : 256);
  if (!KEY_SIZES[algorithm].includes(size)) {
    const minimum = algorithm === 'RSA' ? ' (2048 is the minimum)' : '';
    r.fail(
      'privateKey.size',
      `${size} is not a valid ${algorithm} key size; use one of ${KEY_SIZES[algorithm].join(', ')}${minimum}`,
    );
  }
  return { algorithm, size };
}

function readIssuerRef(r: Reader, ca: Raw): IssuerRef | undefined {
  const ref = r.object(ca, 'issuerRef', 'ca.');
  if (!ref) return undefined;
  r.unknown(ref, ['name', 'kind', 'group'], 'ca.issuerRef.');
  const name = r.string(ref, 'name', 'ca.issuerRef.');
  if (!name) r.fail('ca.issuerRef.name', 'is required: the name of your Issuer or ClusterIssuer');
  const kind = r.string(ref, 'kind', 'ca.issuerRef.', (v) =>
    v === 'Issuer' || v === 'ClusterIssuer' ? undefined : `"${v}" must be Issuer or ClusterIssuer`,
  );
  const group = r.string(ref, 'group', 'ca.issuerRef.');
  // cert-manager's own default kind is Issuer; a reference without a name is reported above.
  return { name: name ?? '', kind: (kind ?? 'Issuer') as IssuerRef['kind'], group: group ?? 'cert-manager.io' };
}

/**
 * The CA and its rotation rules (design.md §8): pods hold the CA certificate they started with
 * for up to a leaf lifetime, so the CA renews (same key) at least that long before it expires.
 */
export function readCa(r: Reader, spec: Raw, leafDuration: string): Config['ca'] {
  const ca = r.object(spec, 'ca', '') ?? {};
  r.unknown(ca, ['name', 'trust', 'issuerRef', 'secretName', 'duration', 'renewBefore', 'noOverlap'], 'ca.');
  const name = r.string(ca, 'name', 'ca.', secretName);
  const trust = r.names(ca, 'trust', 'ca.', NAME);
  const secret = r.string(ca, 'secretName', 'ca.', secretName);
  const issuerRef = readIssuerRef(r, ca);
  if (issuerRef && secret) {
    r.fail('ca', 'set either issuerRef (cert-manager issues the CA) or secretName (an existing CA Secret), not both');
  }
  if (name && secret)
    r.fail('ca', 'set either name (the CA ray-tls emits) or secretName (an existing CA Secret), not both');
  const caDuration = r.string(ca, 'duration', 'ca.', duration) ?? DEFAULTS.ca.duration;
  const renew = r.string(ca, 'renewBefore', 'ca.', duration) ?? (ca.renewBefore ? undefined : leafDuration);
  const hours = (d: string) => durationHours(d) ?? 0;
  if (renew && hours(renew) < hours(leafDuration)) {
    r.fail(
      'ca.renewBefore',
      `${renew} is shorter than the leaf duration ${leafDuration}: pods hold the CA certificate they started with ` +
        'for up to a leaf lifetime, so the CA must renew at least that long before it expires; set ' +
        `ca.renewBefore to ${leafDuration} or more`,
    );
  }
  if (renew && hours(renew) >= (durationHours(caDuration) ?? Infinity)) {
    const why = `(at least one leaf lifetime, duration ${leafDuration})`;
    r.fail('ca.duration', `${caDuration} must be longer than ca.renewBefore ${renew} ${why}`);
  }
  const signer = name ?? secret ?? DEFAULTS.ca.name;
  if (trust?.includes(signer))
    r.fail('ca.trust', `lists ${signer}, the CA that signs: list only the other CAs to trust`);
  return {
    name: name ?? DEFAULTS.ca.name,
    trust: trust ?? [],
    ...(issuerRef?.name && { issuerRef }),
    ...(secret && { secretName: secret }),
    duration: caDuration,
    renewBefore: renew ?? leafDuration,
    noOverlap: r.boolean(ca, 'noOverlap', 'ca.') ?? false,
  };
}

export function readAuth(r: Reader, spec: Raw): Pick<Config, 'auth' | 'authSecret'> {
  const auth = r.string(spec, 'auth', '', (v) =>
    v === 'token' || v === 'none'
      ? undefined
      : `"${v}" is not an auth mode; use token (Ray token authentication) or none`,
  );
  const secret = r.object(spec, 'authSecret', '') ?? {};
  r.unknown(secret, ['name', 'key'], 'authSecret.');
  const name = r.string(secret, 'name', 'authSecret.', secretName);
  const key = r.string(secret, 'key', 'authSecret.', (v) =>
    /^[-._a-zA-Z0-9]+$/.test(v) ? undefined : `"${v}" is not a valid Secret key`,
  );
  return {
    auth: (auth ?? DEFAULTS.auth) as Config['auth'],
    authSecret: { name: name ?? DEFAULTS.authSecret.name, key: key ?? DEFAULTS.authSecret.key },
  };
}

export function readClientSelector(r: Reader, spec: Raw): Record<string, string> {
  const selector = r.object(spec, 'clientSelector', '') ?? {};
  r.unknown(selector, ['matchLabels'], 'clientSelector.');
  const labels = r.object(selector, 'matchLabels', 'clientSelector.') ?? {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)) {
    if (typeof v !== 'string' || !k) r.fail(`clientSelector.matchLabels.${k}`, 'label values must be strings');
    else out[k] = v;
  }
  return out;
}
