// The function config: the typed kind `RayTLS` (fields under `spec`) or a
// ConfigMap whose `data` holds the same fields as flat strings. Absent config
// means the defaults, which follow the django-ray setup.
import { DEFAULT_MODE, MODES, modeNamed, modeProblems } from '../tls/modes/index.js';
import type { IssuerRef, KeyAlgorithm } from '../tls/settings.js';
import type { Json } from '../yaml/json.js';
import { ConfigError, type ConfigProblem, duration, durationHours, isObject, type Raw, Reader } from './reader.js';
import { readAuth, readCa, readClientSelector, readPrivateKey } from './sections.js';

export { ConfigError, type ConfigProblem, durationHours } from './reader.js';

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

/** The registered modes, for the error that lists them. */
function modeChoices(): string {
  const choices = MODES.map((m) => `${m.name} (${m.summary})`);
  return `${choices.slice(0, -1).join(', ')} or ${choices[choices.length - 1]}`;
}

const DNS_LABELS = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

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

const FIELDS = [
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
];

function readSpec(spec: Raw, prefix: string): Config {
  const r = new Reader(prefix);
  r.unknown(spec, FIELDS, '');
  const mode = r.string(spec, 'mode', '', (v) =>
    modeNamed(v) ? undefined : `"${v}" is not a mode; use ${modeChoices()}`,
  );
  const mountPath = r.string(spec, 'mountPath', '', (v) =>
    !v.startsWith('/') || v.includes('..') || v.replace(/\/+$/, '') === ''
      ? 'must be an absolute directory path such as /etc/ray/tls (not /)'
      : undefined,
  );
  const privateKey = readPrivateKey(r, spec);
  const dur = r.string(spec, 'duration', '', duration) ?? DEFAULTS.duration;
  const renew = r.string(spec, 'renewBefore', '', duration) ?? DEFAULTS.renewBefore;
  if ((durationHours(renew) ?? 0) >= (durationHours(dur) ?? Infinity)) {
    r.fail('renewBefore', `${renew} must be shorter than duration ${dur}`);
  }
  const clusterDomain = r.string(spec, 'clusterDomain', '', (v) =>
    DNS_LABELS.test(v) ? undefined : `"${v}" is not a DNS domain such as cluster.local`,
  );
  const ca = readCa(r, spec, dur);
  const certManager = r.boolean(spec, 'certManager', '') ?? true;
  if (!certManager && ca.issuerRef) {
    r.fail('ca.issuerRef', 'needs cert-manager; with certManager: false, name your CA Secret in ca.secretName');
  }
  const initImage = r.string(spec, 'initImage', '');
  const auth = readAuth(r, spec);
  const clientSelector = readClientSelector(r, spec);
  const validate = r.boolean(spec, 'validate', '') ?? false;
  const config: Config = {
    mode: mode ?? DEFAULTS.mode,
    mountPath: (mountPath ?? DEFAULTS.mountPath).replace(/\/+$/, ''),
    privateKey,
    duration: dur,
    renewBefore: renew,
    clusterDomain: clusterDomain ?? DEFAULTS.clusterDomain,
    ca,
    certManager,
    validate,
    ...(initImage && { initImage }),
    clientSelector,
    ...auth,
  };
  // The chosen mode's rules: those its declaration implies, and its own.
  const chosen = modeNamed(config.mode);
  for (const p of chosen ? modeProblems(chosen, config) : []) r.fail(p.field, p.message);
  if (r.problems.length) throw new ConfigError(r.problems);
  return config;
}
