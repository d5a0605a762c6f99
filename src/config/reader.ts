// Reading a config value by value: every problem is recorded with its field path and a fix,
// instead of stopping at the first. Durations are Go durations, as cert-manager reads them.
import type { Json } from '../yaml/json.js';

export interface ConfigProblem {
  field: string;
  message: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super(problems.map((p) => `${p.field}: ${p.message}`).join('; '));
  }
}

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

export type Raw = Record<string, Json>;

export const isObject = (v: Json | undefined): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A reader that records every problem instead of stopping at the first. */
export class Reader {
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

export const duration = (v: string): string | undefined => {
  const h = durationHours(v);
  if (h === undefined) return `"${v}" is not a duration; write hours like 8760h (Go duration: h, m, s)`;
  if (h < 1) return `"${v}" is shorter than one hour`;
  return undefined;
};

/** A Kubernetes object name (DNS label). */
export const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export const secretName = (v: string): string | undefined =>
  NAME.test(v) ? undefined : `"${v}" is not a valid Secret name`;
