// Results and stderr never carry a secret. Whatever the input holds reaches a result only
// through here: the value of an env var or map key named like a secret (a token, a password,
// a key), a PEM private key, `NAME=value` and `--flag value` in a command for such names,
// and a password in a URL are replaced by REDACTED. Names stay, so a message still says where.

import type { Json } from '../yaml/json.js';
import type { Result } from './results.js';

export const REDACTED = '<redacted>';

/** A name that says its value is secret: RAY_AUTH_TOKEN, RAY_TLS_SERVER_KEY, redis-password, apiKey... */
const SECRET_NAME = /token|secret|passw|credential|private|(^|[-_.])key($|[-_.])|[a-z]Key($|[A-Z])|apikey/i;
// Kubernetes fields whose names sound secret but hold a reference to one, never the secret.
const REFERENCES = new Set(['key', 'secretName', 'secretKeyRef', 'secretRef', 'keyRef']);
export const isSecretName = (name: string) => SECRET_NAME.test(name) && !REFERENCES.has(name);

const NAME_VALUE = /([A-Za-z_][\w.-]*)=("[^"]*"|'[^']*'|[^\s;&|"']+)/g;
const FLAG_VALUE = /(^|\s)(--[\w-]+)(=| +)("[^"]*"|'[^']*'|[^\s;&|"']+)/g;
const URL_PASSWORD = /(\b[a-z][\w+.-]*:\/\/[^/:@\s]*):[^/@\s]+@/gi;

/** A text with every secret in it replaced; a text that holds a private key is replaced whole. */
export function redactText(text: string): string {
  if (/PRIVATE KEY/.test(text)) return REDACTED;
  return text
    .replace(NAME_VALUE, (all, name: string) => (isSecretName(name) ? `${name}=${REDACTED}` : all))
    .replace(FLAG_VALUE, (all, pre: string, flag: string, sep: string) =>
      isSecretName(flag) ? `${pre}${flag}${sep}${REDACTED}` : all,
    )
    .replace(URL_PASSWORD, `$1:${REDACTED}@`);
}

/** A value from the input: each string redacted, and the values of secret-named entries and keys removed. */
export function redact(v: Json | undefined): Json | undefined {
  if (typeof v === 'string') return redactText(v);
  if (Array.isArray(v)) return v.map((x) => redact(x) as Json);
  if (v === null || typeof v !== 'object') return v;
  // An env entry {name: RAY_AUTH_TOKEN, value: ...}: its value is secret.
  const named = typeof v.name === 'string' && isSecretName(v.name);
  const out: Record<string, Json> = {};
  for (const [k, x] of Object.entries(v)) {
    const secret = (named && k === 'value') || (isSecretName(k) && typeof x === 'string');
    out[k] = secret ? REDACTED : (redact(x) as Json);
  }
  return out;
}

/**
 * A result safe to print. Its current value comes from the input: fully redacted. The proposed
 * value is ray-tls's own (a path such as RAY_TLS_SERVER_KEY's stays readable), but may quote the
 * input, so its texts are redacted.
 */
export function redactResult(r: Result): Result {
  const field = r.field && {
    ...r.field,
    ...('currentValue' in r.field && { currentValue: redact(r.field.currentValue) as Json }),
    ...('proposedValue' in r.field && { proposedValue: redactTexts(r.field.proposedValue) as Json }),
  };
  return { ...r, message: redactText(r.message), ...(field && { field }) };
}

function redactTexts(v: Json | undefined): Json | undefined {
  if (typeof v === 'string') return redactText(v);
  if (Array.isArray(v)) return v.map((x) => redactTexts(x) as Json);
  if (v === null || typeof v !== 'object') return v;
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, redactTexts(x) as Json]));
}
