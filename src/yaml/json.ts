// Plain values read out of YAML nodes, and the few helpers every layer needs to look at them.

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonMap = Record<string, Json>;

export const isMap = (v: Json | undefined): v is JsonMap => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The maps of a list value; anything else (null, a scalar, a string template) is no list. */
export const mapsOf = (v: Json | undefined): JsonMap[] => (Array.isArray(v) ? v.filter(isMap) : []);

/** The value at a path of keys and indexes; undefined where any step is missing or not a collection. */
export function getIn(value: Json | undefined, path: readonly (string | number)[]): Json | undefined {
  let at = value;
  for (const key of path) {
    if (at === null || typeof at !== 'object') return undefined;
    at = Array.isArray(at)
      ? typeof key === 'number'
        ? at[key]
        : undefined
      : Object.hasOwn(at, key)
        ? at[key]
        : undefined;
  }
  return at;
}

export function deepEqual(a: Json | undefined, b: Json | undefined): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => deepEqual(v, b[i]));
  const ka = Object.keys(a);
  const kb = Object.keys(b as object);
  return ka.length === kb.length && ka.every((k) => deepEqual((a as JsonMap)[k], (b as JsonMap)[k]));
}
