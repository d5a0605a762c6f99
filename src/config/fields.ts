// Every config field, declared once (field.ts), in the order --help shows them and they are read:
// this table drives the Config type, the defaults, both config forms, the errors and --help.
import { DEFAULT_MODE, MODES, modeNamed } from '../tls/modes/index.js';
import { type Field, field } from './field.js';
import { duration, durationHours } from './reader.js';
import { auth, authSecret, ca, clientSelector, privateKey } from './sections.js';

const DNS_LABELS = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** The registered modes, for the error that lists them. */
function modeChoices(): string {
  const choices = MODES.map((m) => `${m.name} (${m.summary})`);
  return `${choices.slice(0, -1).join(', ')} or ${choices[choices.length - 1]}`;
}

/** A certificate mode's name (tls/modes). */
const mode = field<string>({
  default: DEFAULT_MODE.name,
  read: (r, spec) =>
    r.string(spec, 'mode', '', (v) => (modeNamed(v) ? undefined : `"${v}" is not a mode; use ${modeChoices()}`)) ??
    DEFAULT_MODE.name,
  help: (d) =>
    `${d} (default), one of:\n${MODES.map((m) => `                    ${m.name.padEnd(9)} ${m.help}`).join('\n')}`,
});

const mountPath = field<string>({
  default: '/etc/ray/tls',
  read(r, spec) {
    const path = r.string(spec, 'mountPath', '', (v) =>
      !v.startsWith('/') || v.includes('..') || v.replace(/\/+$/, '') === ''
        ? 'must be an absolute directory path such as /etc/ray/tls (not /)'
        : undefined,
    );
    return (path ?? this.default).replace(/\/+$/, '');
  },
  help: (d) => d,
});

/** The leaves' lifetime (cert-manager Certificates and per-pod certificates alike). */
const leafDuration = field<string>({
  default: '8760h',
  read(r, spec) {
    return r.string(spec, 'duration', '', duration) ?? this.default;
  },
  help: (d) => d,
});

const renewBefore = field<string>({
  default: '720h',
  read(r, spec, earlier) {
    const renew = r.string(spec, 'renewBefore', '', duration) ?? this.default;
    const leaf = earlier.duration as string;
    if ((durationHours(renew) ?? 0) >= (durationHours(leaf) ?? Infinity))
      r.fail('renewBefore', `${renew} must be shorter than duration ${leaf}`);
    return renew;
  },
  help: (d) => d,
  helpLayout: 'sameLine',
});

const clusterDomain = field<string>({
  default: 'cluster.local',
  read(r, spec) {
    const domain = r.string(spec, 'clusterDomain', '', (v) =>
      DNS_LABELS.test(v) ? undefined : `"${v}" is not a DNS domain such as cluster.local`,
    );
    return domain ?? this.default;
  },
  help: (d) => d,
  helpLayout: 'sameLine',
});

/** False: emit no cert-manager resources; the CA and client Secrets come from `ray-tls certs` or your PKI. */
const certManager = field<boolean>({
  default: true,
  read(r, spec, earlier) {
    const on = r.boolean(spec, 'certManager', '') ?? this.default;
    if (!on && (earlier.ca as { issuerRef?: unknown }).issuerRef)
      r.fail('ca.issuerRef', 'needs cert-manager; with certManager: false, name your CA Secret in ca.secretName');
    return on;
  },
  help: () =>
    'true (default); false: emit no cert-manager resources, the Secrets\n                  ' +
    'come from `ray-tls certs` or your PKI',
});

/** Image for the init containers; defaults to the pod's own Ray image. */
const initImage = field<string | undefined>({
  default: undefined,
  read: (r, spec) => r.string(spec, 'initImage', ''),
  help: () => "image for the init containers (default: the pod's Ray image)",
});

/** Change nothing; report Ray containers without TLS and weak settings as errors. */
const validate = field<boolean>({
  default: false,
  read(r, spec) {
    return r.boolean(spec, 'validate', '') ?? this.default;
  },
  help: () => 'true: the validator (as ray-tls validate), for kpt validators: and CI',
});

export const FIELDS = {
  mode,
  mountPath,
  privateKey,
  duration: leafDuration,
  renewBefore,
  clusterDomain,
  ca,
  certManager,
  auth,
  authSecret,
  initImage,
  validate,
  clientSelector,
};

/** The config, as the fields declare it. */
export type Config = { [K in keyof typeof FIELDS]: (typeof FIELDS)[K] extends Field<infer T> ? T : never };

export const DEFAULTS = Object.fromEntries(Object.entries(FIELDS).map(([name, f]) => [name, f.default])) as Config;

/** The declaration of a field by its name (undefined for any other key). */
export const fieldNamed = (name: string): Field<unknown> | undefined =>
  Object.hasOwn(FIELDS, name) ? (FIELDS[name as keyof Config] as Field<unknown>) : undefined;
