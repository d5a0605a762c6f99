// The function config: the typed kind `RayTLS` (fields under `spec`) or a
// ConfigMap whose `data` holds the same fields as flat strings. Absent config
// means the defaults, which follow the django-ray setup.
import { modeNamed, modeProblems } from '../tls/modes/index.js';
import type { Json } from '../yaml/json.js';
import type { Field } from './field.js';
import { type Config, DEFAULTS, FIELDS, fieldNamed } from './fields.js';
import { ConfigError, type ConfigProblem, isObject, type Raw, Reader } from './reader.js';

export { type Config, DEFAULTS } from './fields.js';
export { ConfigError, type ConfigProblem, durationHours } from './reader.js';

export const CONFIG_API_VERSION = 'ray-tls.io/v1alpha1';
export const CONFIG_KIND = 'RayTLS';

/**
 * Reads and validates a function config (undefined, `{}`, a ConfigMap, or a RayTLS), with
 * `settings` (flat `key=value` fields, as kpt's `-- key=value`) over its own fields.
 */
export function readConfig(functionConfig: Json | undefined, settings: Record<string, string> = {}): Config {
  const extra = Object.keys(settings).length > 0;
  if (functionConfig === undefined || functionConfig === null)
    return extra ? readSpec(fromConfigMap({ data: settings }), '') : DEFAULTS;
  if (!isObject(functionConfig))
    throw new ConfigError([{ field: 'functionConfig', message: 'must be a mapping (a RayTLS or a ConfigMap)' }]);
  const { kind, apiVersion } = functionConfig;
  if (kind === undefined && Object.keys(functionConfig).length === 0) return readConfig(undefined, settings);
  if (kind === 'ConfigMap') {
    const data = { ...(isObject(functionConfig.data) ? functionConfig.data : {}), ...settings };
    return readSpec(fromConfigMap({ ...functionConfig, data }), 'functionConfig.data.');
  }
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
    return readSpec(extra ? overlay(spec, fromConfigMap({ data: settings })) : spec, 'functionConfig.spec.');
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

/** `base` with `top`'s fields over it, mappings merged field by field. */
function overlay(base: Raw, top: Raw): Raw {
  const out = { ...base };
  for (const [k, v] of Object.entries(top)) out[k] = isObject(v) && isObject(out[k]) ? overlay(out[k] as Raw, v) : v;
  return out;
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
    const declared = fieldNamed(key);
    if (declared?.fromData && typeof value === 'string') {
      const read = declared.fromData(value);
      if ('problem' in read) problems.push({ field: `functionConfig.data.${key}`, message: read.problem });
      else spec[key] = read.value;
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

/** A spec's fields, each read by its declaration (fields.ts) in order; then the chosen mode's rules. */
function readSpec(spec: Raw, prefix: string): Config {
  const r = new Reader(prefix);
  r.unknown(spec, Object.keys(FIELDS), '');
  const read: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(FIELDS)) read[name] = (f as Field<unknown>).read(r, spec, read);
  const config = read as Config;
  // The chosen mode's rules: those its declaration implies, and its own.
  const chosen = modeNamed(config.mode);
  for (const p of chosen ? modeProblems(chosen, config) : []) r.fail(p.field, p.message);
  if (r.problems.length) throw new ConfigError(r.problems);
  return config;
}
