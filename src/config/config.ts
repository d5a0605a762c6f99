// The function config: the typed kind `RayTLS` (fields under `spec`) or a
// ConfigMap whose `data` holds the same fields as flat strings. Absent config
// means the defaults, which follow the django-ray setup.
import { DEFAULT_MODE, MODES, modeNamed } from '../tls/modes/index.js';
import type { IssuerRef, KeyAlgorithm } from '../tls/settings.js';
import type { Json } from '../yaml/json.js';

export const CONFIG_API_VERSION = 'ray-tls.io/v1alpha1';
export const CONFIG_KIND = 'RayTLS';

export interface Config {
  /** A certificate mode's name (tls/modes). */
  mode: string;
  mountPath: string;
  privateKey: { algorithm: KeyAlgorithm; size: number };
  duration: string;
  renewBefore: string;
  clusterDomain: string;
  ca: {
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
  };
  /** False: emit no cert-manager resources; the CA and client Secrets come from `ray-tls certs` or your PKI. */
  certManager: boolean;
  /** Change nothing; report Ray containers without TLS and weak settings as errors. */
  validate: boolean;
  /** Image for the per-pod init container; defaults to the pod's own Ray image. */
  initImage?: string;
  /** Pods whose template labels match are Ray clients even without a `ray://` address. */
  clientSelector: Record<string, string>;
  /** Ray token authentication (RAY_AUTH_MODE=token) for every Ray process ray-tls touches. */
  auth: 'token' | 'none';
  /** The Secret and key that hold the Ray auth token (made outside the manifests: ray-tls token). */
  authSecret: { name: string; key: string };
}

export const DEFAULTS: Config = {
  mode: DEFAULT_MODE.name,
  mountPath: '/etc/ray/tls',
  privateKey: { algorithm: 'RSA', size: 4096 },
  duration: '8760h',
  renewBefore: '720h',
  clusterDomain: 'cluster.local',
  ca: { name: 'ray-tls-ca', trust: [], duration: '43800h', renewBefore: '8760h', noOverlap: false },
  certManager: true,
  validate: false,
  clientSelector: {},
  auth: 'none',
  authSecret: { name: 'ray-auth-token', key: 'token' },
};

export interface ConfigProblem {
  field: string;
  message: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super(problems.map((p) => `${p.field}: ${p.message}`).join('; '));
  }
}

const KEY_SIZES: Record<KeyAlgorithm, number[]> = { RSA: [2048, 3072, 4096, 8192], ECDSA: [256, 384, 521] };
const DNS_LABELS = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

const choices = MODES.map((m) => `${m.name} (${m.summary})`);
const MODE_CHOICES = `${choices.slice(0, -1).join(', ')} or ${choices[choices.length - 1]}`;

const UNIT_HOURS: Record<string, number> = {
  h: 1,
  m: 1 / 60,
  s: 1 / 3600,
  ms: 1 / 3_600_000,
  us: 1 / 3_600_000_000,
  µs: 1 / 3_600_000_000,
  ns: 1 / 3_600_000_000_000,
};

/** Hours in a Go duration such as `8760h`, `720h0m0s`, `1.5h` or `90m`; undefined when malformed. */
export function durationHours(text: string): number | undefined {
  if (!/^(\d+(\.\d+)?(h|ms|m|s|us|µs|ns))+$/.test(text)) return undefined;
  let hours = 0;
  for (const [, n, unit] of text.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)/g)) {
    hours += Number(n) * UNIT_HOURS[unit];
  }
  return hours;
}

type Raw = Record<string, Json>;

const isObject = (v: Json | undefined): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A reader that records every problem instead of stopping at the first. */
class Reader {
  readonly problems: ConfigProblem[] = [];
  constructor(private readonly prefix: string) {}

  fail(field: string, message: string): void {
    this.problems.push({ field: `${this.prefix}${field}`, message });
  }

  unknown(raw: Raw, known: string[], at: string): void {
    for (const key of Object.keys(raw)) {
      if (known.includes(key)) continue;
      const near = known.find((k) => k.toLowerCase() === key.toLowerCase());
      this.fail(
        at + key,
        near ? `unknown field; did you mean ${near}?` : `unknown field; known fields here: ${known.join(', ')}`,
      );
    }
  }

  string(raw: Raw, key: string, at: string, check?: (v: string) => string | undefined): string | undefined {
    const v = raw[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string' || v === '') {
      this.fail(at + key, `must be a non-empty string, got ${JSON.stringify(v)}`);
      return undefined;
    }
    const problem = check?.(v);
    if (problem) {
      this.fail(at + key, problem);
      return undefined;
    }
    return v;
  }

  number(raw: Raw, key: string, at: string): number | undefined {
    const v = raw[key];
    if (v === undefined || v === null) return undefined;
    const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isInteger(n)) {
      this.fail(at + key, `must be an integer, got ${JSON.stringify(v)}`);
      return undefined;
    }
    return n;
  }

  boolean(raw: Raw, key: string, at: string): boolean | undefined {
    const v = raw[key];
    if (v === undefined || v === null) return undefined;
    if (v === true || v === 'true') return true;
    if (v === false || v === 'false') return false;
    this.fail(at + key, `must be true or false, got ${JSON.stringify(v)}`);
    return undefined;
  }

  /** A list of names; a ConfigMap writes it as one comma-separated string. */
  names(raw: Raw, key: string, at: string, pattern: RegExp): string[] | undefined {
    const v = raw[key];
    if (v === undefined || v === null) return undefined;
    const list =
      typeof v === 'string'
        ? v
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean)
        : v;
    if (!Array.isArray(list) || list.some((n) => typeof n !== 'string' || !pattern.test(n))) {
      this.fail(
        at + key,
        `must be a list of Secret names (a ConfigMap writes them comma-separated), got ${JSON.stringify(v)}`,
      );
      return undefined;
    }
    return [...new Set(list as string[])];
  }

  object(raw: Raw, key: string, at: string): Raw | undefined {
    const v = raw[key];
    if (v === undefined || v === null) return undefined;
    if (!isObject(v)) {
      this.fail(at + key, `must be a mapping, got ${JSON.stringify(v)}`);
      return undefined;
    }
    return v;
  }
}

const duration = (v: string): string | undefined => {
  const h = durationHours(v);
  if (h === undefined) return `"${v}" is not a duration; write hours like 8760h (Go duration: h, m, s)`;
  if (h < 1) return `"${v}" is shorter than one hour`;
  return undefined;
};

/** Reads and validates a function config (undefined, `{}`, a ConfigMap, or a RayTLS). */
export function readConfig(functionConfig: Json | undefined): Config {
  if (functionConfig === undefined || functionConfig === null) return DEFAULTS;
  if (!isObject(functionConfig))
    throw new ConfigError([{ field: 'functionConfig', message: 'must be a mapping (a RayTLS or a ConfigMap)' }]);
  const { kind, apiVersion } = functionConfig;
  if (kind === undefined && Object.keys(functionConfig).length === 0) return DEFAULTS;
  if (kind === 'ConfigMap') return readSpec(fromConfigMap(functionConfig), 'functionConfig.data.');
  if (kind === CONFIG_KIND) {
    if (apiVersion !== CONFIG_API_VERSION) {
      throw new ConfigError([
        {
          field: 'functionConfig.apiVersion',
          message: `must be ${CONFIG_API_VERSION}, got ${JSON.stringify(apiVersion)}`,
        },
      ]);
    }
    const reader = new Reader('functionConfig.');
    reader.unknown(functionConfig, ['apiVersion', 'kind', 'metadata', 'spec'], '');
    const spec = reader.object(functionConfig, 'spec', '') ?? {};
    if (reader.problems.length) throw new ConfigError(reader.problems);
    return readSpec(spec, 'functionConfig.spec.');
  }
  throw new ConfigError([
    {
      field: 'functionConfig.kind',
      message:
        `${JSON.stringify(kind)} is not a config this function reads; use kind ${CONFIG_KIND} (apiVersion ` +
        `${CONFIG_API_VERSION}) or a ConfigMap`,
    },
  ]);
}

const UNSAFE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** ConfigMap keys are flat: `privateKey.size: "4096"`, `clientSelector: "app=x,tier=y"`. */
function fromConfigMap(cm: Raw): Raw {
  const data = isObject(cm.data) ? cm.data : {};
  const spec: Raw = {};
  const problems: ConfigProblem[] = [];
  for (const [key, value] of Object.entries(data)) {
    const path = key.split('.');
    if (path.some((p) => UNSAFE_KEYS.has(p) || p === '')) {
      problems.push({
        field: `functionConfig.data.${key}`,
        message: 'is not a config key (keys are field paths such as privateKey.size)',
      });
      continue;
    }
    if (key === 'clientSelector' && typeof value === 'string') {
      const pairs = value
        .split(',')
        .map((kv) => kv.trim())
        .filter(Boolean)
        .map((kv) => kv.split('='));
      if (pairs.some((p) => p.length !== 2 || !p[0].trim())) {
        problems.push({
          field: 'functionConfig.data.clientSelector',
          message:
            `"${value}" is not a label selector; write key=value pairs separated by commas, such as ` +
            `app=django-ray,tier=worker`,
        });
        continue;
      }
      spec.clientSelector = { matchLabels: Object.fromEntries(pairs.map(([k, v]) => [k.trim(), v.trim()])) };
      continue;
    }
    let at = spec;
    for (const part of path.slice(0, -1)) {
      if (!isObject(at[part])) at[part] = {};
      at = at[part] as Raw;
    }
    at[path[path.length - 1]] = value;
  }
  if (problems.length) throw new ConfigError(problems);
  return spec;
}

function readSpec(spec: Raw, prefix: string): Config {
  const r = new Reader(prefix);
  r.unknown(
    spec,
    [
      'mode',
      'mountPath',
      'privateKey',
      'duration',
      'renewBefore',
      'clusterDomain',
      'ca',
      'certManager',
      'validate',
      'initImage',
      'clientSelector',
      'auth',
      'authSecret',
    ],
    '',
  );

  const mode = r.string(spec, 'mode', '', (v) =>
    modeNamed(v) ? undefined : `"${v}" is not a mode; use ${MODE_CHOICES}`,
  );
  const mountPath = r.string(spec, 'mountPath', '', (v) =>
    !v.startsWith('/') || v.includes('..') || v.replace(/\/+$/, '') === ''
      ? 'must be an absolute directory path such as /etc/ray/tls (not /)'
      : undefined,
  );

  const pk = r.object(spec, 'privateKey', '') ?? {};
  r.unknown(pk, ['algorithm', 'size'], 'privateKey.');
  const algorithm = (r.string(pk, 'algorithm', 'privateKey.', (v) =>
    v === 'RSA' || v === 'ECDSA' ? undefined : `"${v}" is not supported; use RSA or ECDSA`,
  ) ?? DEFAULTS.privateKey.algorithm) as KeyAlgorithm;
  const size = r.number(pk, 'size', 'privateKey.') ?? (algorithm === 'RSA' ? 4096 : 256);
  if (!KEY_SIZES[algorithm].includes(size)) {
    r.fail(
      'privateKey.size',
      `${size} is not a valid ${algorithm} key size; use one of ` +
        `${KEY_SIZES[algorithm].join(', ')}${algorithm === 'RSA' ? ' (2048 is the minimum)' : ''}`,
    );
  }

  const dur = r.string(spec, 'duration', '', duration) ?? DEFAULTS.duration;
  const renew = r.string(spec, 'renewBefore', '', duration) ?? DEFAULTS.renewBefore;
  if ((durationHours(renew) ?? 0) >= (durationHours(dur) ?? Infinity))
    r.fail('renewBefore', `${renew} must be shorter than duration ${dur}`);
  const clusterDomain = r.string(spec, 'clusterDomain', '', (v) =>
    DNS_LABELS.test(v) ? undefined : `"${v}" is not a DNS domain such as cluster.local`,
  );

  const caRaw = r.object(spec, 'ca', '') ?? {};
  r.unknown(caRaw, ['name', 'trust', 'issuerRef', 'secretName', 'duration', 'renewBefore', 'noOverlap'], 'ca.');
  const caName = r.string(caRaw, 'name', 'ca.', (v) =>
    NAME.test(v) ? undefined : `"${v}" is not a valid Secret name`,
  );
  const trust = r.names(caRaw, 'trust', 'ca.', NAME);
  const caSecret = r.string(caRaw, 'secretName', 'ca.', (v) =>
    NAME.test(v) ? undefined : `"${v}" is not a valid Secret name`,
  );
  const refRaw = r.object(caRaw, 'issuerRef', 'ca.');
  let issuerRef: IssuerRef | undefined;
  if (refRaw) {
    r.unknown(refRaw, ['name', 'kind', 'group'], 'ca.issuerRef.');
    const name = r.string(refRaw, 'name', 'ca.issuerRef.');
    if (!name) r.fail('ca.issuerRef.name', 'is required: the name of your Issuer or ClusterIssuer');
    const kind = r.string(refRaw, 'kind', 'ca.issuerRef.', (v) =>
      v === 'Issuer' || v === 'ClusterIssuer' ? undefined : `"${v}" must be Issuer or ClusterIssuer`,
    );
    const group = r.string(refRaw, 'group', 'ca.issuerRef.');
    // cert-manager's own default kind is Issuer.
    if (name) issuerRef = { name, kind: (kind ?? 'Issuer') as IssuerRef['kind'], group: group ?? 'cert-manager.io' };
  }
  if (refRaw && caSecret)
    r.fail('ca', 'set either issuerRef (cert-manager issues the CA) or secretName (an existing CA Secret), not both');
  if (caName && caSecret)
    r.fail('ca', 'set either name (the CA ray-tls emits) or secretName (an existing CA Secret), not both');
  const caDuration = r.string(caRaw, 'duration', 'ca.', duration) ?? DEFAULTS.ca.duration;
  // Pods hold the CA certificate they started with for up to a leaf lifetime: the CA must renew
  // (same key) at least that long before it expires, so no pod meets an expired CA (design.md §8).
  const caRenew = r.string(caRaw, 'renewBefore', 'ca.', duration) ?? (caRaw.renewBefore ? undefined : dur);
  if (caRenew && (durationHours(caRenew) ?? 0) < (durationHours(dur) ?? 0)) {
    r.fail(
      'ca.renewBefore',
      `${caRenew} is shorter than the leaf duration ${dur}: pods hold the CA certificate they started with for up to ` +
        `a leaf lifetime, so the CA must renew at least that long before it expires; set ca.renewBefore to ${dur} or ` +
        `more`,
    );
  }
  if (caRenew && (durationHours(caRenew) ?? 0) >= (durationHours(caDuration) ?? Infinity)) {
    r.fail(
      'ca.duration',
      `${caDuration} must be longer than ca.renewBefore ${caRenew} (at least one leaf lifetime, duration ${dur})`,
    );
  }
  if (trust?.includes(caName ?? caSecret ?? DEFAULTS.ca.name))
    r.fail(
      'ca.trust',
      `lists ${caName ?? caSecret ?? DEFAULTS.ca.name}, the CA that signs: list only the other CAs to trust`,
    );

  const certManager = r.boolean(spec, 'certManager', '') ?? true;
  if (!certManager && refRaw)
    r.fail('ca.issuerRef', 'needs cert-manager; with certManager: false, name your CA Secret in ca.secretName');
  const initImage = r.string(spec, 'initImage', '');
  const auth = r.string(spec, 'auth', '', (v) =>
    v === 'token' || v === 'none'
      ? undefined
      : `"${v}" is not an auth mode; use token (Ray token authentication) or none`,
  );
  const authRaw = r.object(spec, 'authSecret', '') ?? {};
  r.unknown(authRaw, ['name', 'key'], 'authSecret.');
  const authName = r.string(authRaw, 'name', 'authSecret.', (v) =>
    NAME.test(v) ? undefined : `"${v}" is not a valid Secret name`,
  );
  const authKey = r.string(authRaw, 'key', 'authSecret.', (v) =>
    /^[-._a-zA-Z0-9]+$/.test(v) ? undefined : `"${v}" is not a valid Secret key`,
  );
  const selRaw = r.object(spec, 'clientSelector', '') ?? {};
  r.unknown(selRaw, ['matchLabels'], 'clientSelector.');
  const labels = r.object(selRaw, 'matchLabels', 'clientSelector.') ?? {};
  const clientSelector: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)) {
    if (typeof v !== 'string' || !k) r.fail(`clientSelector.matchLabels.${k}`, 'label values must be strings');
    else clientSelector[k] = v;
  }

  if (r.problems.length) throw new ConfigError(r.problems);
  return {
    mode: mode ?? DEFAULTS.mode,
    mountPath: (mountPath ?? DEFAULTS.mountPath).replace(/\/+$/, ''),
    privateKey: { algorithm, size },
    duration: dur,
    renewBefore: renew,
    clusterDomain: clusterDomain ?? DEFAULTS.clusterDomain,
    ca: {
      name: caName ?? DEFAULTS.ca.name,
      trust: trust ?? [],
      ...(issuerRef && { issuerRef }),
      ...(caSecret && { secretName: caSecret }),
      duration: caDuration,
      renewBefore: caRenew ?? DEFAULTS.ca.renewBefore,
      noOverlap: r.boolean(caRaw, 'noOverlap', 'ca.') ?? false,
    },
    certManager,
    validate: r.boolean(spec, 'validate', '') ?? false,
    ...(initImage && { initImage }),
    clientSelector,
    auth: (auth ?? DEFAULTS.auth) as Config['auth'],
    authSecret: { name: authName ?? DEFAULTS.authSecret.name, key: authKey ?? DEFAULTS.authSecret.key },
  };
}
