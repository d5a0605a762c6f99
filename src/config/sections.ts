// The config's nested fields, each declared once (field.ts): the key, the CA (and its rotation
// rules), token authentication and its Secret, the client selector.
import type { IssuerRef, KeyAlgorithm } from '../tls/settings.js';
import { type Earlier, field, helpLines } from './field.js';
import { duration, durationHours, NAME, type Raw, type Reader, secretName } from './reader.js';

const KEY_SIZES: Record<KeyAlgorithm, number[]> = { RSA: [2048, 3072, 4096, 8192], ECDSA: [256, 384, 521] };

export const privateKey = field<{ algorithm: KeyAlgorithm; size: number }>({
  default: { algorithm: 'RSA', size: 4096 },
  read(r, spec) {
    const pk = r.object(spec, 'privateKey', '') ?? {};
    r.unknown(pk, ['algorithm', 'size'], 'privateKey.');
    const algorithm = (r.string(pk, 'algorithm', 'privateKey.', (v) =>
      v === 'RSA' || v === 'ECDSA' ? undefined : `"${v}" is not supported; use RSA or ECDSA`,
    ) ?? this.default.algorithm) as KeyAlgorithm;
    const size = r.number(pk, 'size', 'privateKey.') ?? (algorithm === 'RSA' ? 4096 : 256);
    if (!KEY_SIZES[algorithm].includes(size)) {
      const minimum = algorithm === 'RSA' ? ' (2048 is the minimum)' : '';
      r.fail(
        'privateKey.size',
        `${size} is not a valid ${algorithm} key size; use one of ${KEY_SIZES[algorithm].join(', ')}${minimum}`,
      );
    }
    return { algorithm, size };
  },
  help: (d) => `{algorithm: RSA|ECDSA, size: ${d.size}}`,
});

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

export interface CaConfig {
  /** The CA Certificate, Secret and Issuer ray-tls emits (cert-manager); a new name is a new CA key. */
  name: string;
  /** Further CA Secrets every Ray pod trusts (the overlap of a planned CA rotation); only their ca.crt is mounted. */
  trust: string[];
  /** When cert-manager renews the CA: at least one leaf lifetime before it expires. */
  renewBefore: string;
  /** After a CA key compromise: switch the signing CA at once, with no overlap (an outage). */
  noOverlap: boolean;
  /** Issue the CA certificate from the user's issuer (an intermediate CA) instead of a self-signed root. */
  issuerRef?: IssuerRef;
  /** Use an existing CA Secret (ca.crt, tls.crt, tls.key) and emit no CA certificate. */
  secretName?: string;
  duration: string;
}

/** The CA's renewal: at least one leaf lifetime before it expires, and before the CA's own duration. */
function renewRules(r: Reader, renew: string | undefined, caDuration: string, leafDuration: string): void {
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
}

/**
 * The CA and its rotation rules (docs/design.md §4): pods hold the CA certificate they started with
 * for up to a leaf lifetime, so the CA renews (same key) at least that long before it expires.
 */
export const ca = field<CaConfig>({
  default: { name: 'ray-tls-ca', trust: [], duration: '43800h', renewBefore: '8760h', noOverlap: false },
  read(r, spec, earlier: Earlier) {
    const leafDuration = earlier.duration as string;
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
    const caDuration = r.string(ca, 'duration', 'ca.', duration) ?? this.default.duration;
    const renew = r.string(ca, 'renewBefore', 'ca.', duration) ?? (ca.renewBefore ? undefined : leafDuration);
    renewRules(r, renew, caDuration, leafDuration);
    const signer = name ?? secret ?? this.default.name;
    if (trust?.includes(signer))
      r.fail('ca.trust', `lists ${signer}, the CA that signs: list only the other CAs to trust`);
    return {
      name: name ?? this.default.name,
      trust: trust ?? [],
      ...(issuerRef?.name && { issuerRef }),
      ...(secret && { secretName: secret }),
      duration: caDuration,
      renewBefore: renew ?? leafDuration,
      noOverlap: r.boolean(ca, 'noOverlap', 'ca.') ?? false,
    };
  },
  help: (d) =>
    helpLines(
      `name: ${d.name}   the CA ray-tls emits (a new name is a new key)`,
      'trust: [SECRET, ...]  further CAs every Ray pod trusts (CA rotation)',
      `duration: ${d.duration}  renewBefore: the leaf duration (at least)`,
      'issuerRef: {name, kind}  your issuer signs the CA (intermediate), or',
      'secretName: NAME  an existing CA Secret',
      'noOverlap: true   after a CA key compromise only (README: Rotation)',
    ),
});

/** Ray token authentication (RAY_AUTH_MODE=token) for every Ray process ray-tls touches. */
export const auth = field<'token' | 'none'>({
  default: 'none',
  read(r, spec) {
    const auth = r.string(spec, 'auth', '', (v) =>
      v === 'token' || v === 'none'
        ? undefined
        : `"${v}" is not an auth mode; use token (Ray token authentication) or none`,
    );
    return (auth ?? this.default) as 'token' | 'none';
  },
  help: (d) => `${d} (default) or token: Ray token authentication, the token from`,
});

/** The Secret and key that hold the Ray auth token (made outside the manifests: ray-tls token). */
export const authSecret = field<{ name: string; key: string }>({
  default: { name: 'ray-auth-token', key: 'auth_token' },
  read(r, spec) {
    const secret = r.object(spec, 'authSecret', '') ?? {};
    r.unknown(secret, ['name', 'key'], 'authSecret.');
    const name = r.string(secret, 'name', 'authSecret.', secretName);
    const key = r.string(secret, 'key', 'authSecret.', (v) =>
      /^[-._a-zA-Z0-9]+$/.test(v) ? undefined : `"${v}" is not a valid Secret key`,
    );
    return { name: name ?? this.default.name, key: key ?? this.default.key };
  },
  help: (d) => `{name: ${d.name}, key: ${d.key}}`,
  helpLayout: 'below',
});

/** Pods whose template labels match are Ray clients even without a `ray://` address. */
export const clientSelector = field<Record<string, string>>({
  default: {},
  read(r, spec) {
    const selector = r.object(spec, 'clientSelector', '') ?? {};
    r.unknown(selector, ['matchLabels'], 'clientSelector.');
    const labels = r.object(selector, 'matchLabels', 'clientSelector.') ?? {};
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(labels)) {
      if (typeof v !== 'string' || !k) r.fail(`clientSelector.matchLabels.${k}`, 'label values must be strings');
      else out[k] = v;
    }
    return out;
  },
  // A ConfigMap writes the labels as `app=x,tier=y`.
  fromData(value) {
    const pairs = value
      .split(',')
      .map((kv) => kv.trim())
      .filter(Boolean)
      .map((kv) => kv.split('='));
    if (pairs.some((p) => p.length !== 2 || !p[0].trim()))
      return {
        problem:
          `"${value}" is not a label selector; write key=value pairs separated by commas, such as ` +
          `app=django-ray,tier=worker`,
      };
    return { value: { matchLabels: Object.fromEntries(pairs.map(([k, v]) => [k.trim(), v.trim()])) } };
  },
  help: () => '{matchLabels: {...}} pods that are Ray clients without a ray:// address',
});
