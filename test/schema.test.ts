// Every resource the function emits passes cert-manager's schema (the kubernetes-models
// classes). The function builds these objects itself, so the check lives here, not in each
// run (docs/design.md §6): over every golden example, and over each input in every mode.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { run } from '../src/function/run.js';
import type { Obj } from './support/emitted.js';
import { validateManifest } from './support/validate.js';

const root = join(import.meta.dirname, 'examples');
const examples = readdirSync(root)
  .sort()
  .filter((name) => !name.startsWith('error-'));

/** The items ray-tls emitted (they carry its managed-by label). */
const emitted = (output: string): Obj[] =>
  ((parse(output) as Obj).items as Obj[]).filter(
    (i) => i?.metadata?.labels?.['app.kubernetes.io/managed-by'] === 'ray-tls',
  );

/** The example's input with the config's mode (and key) replaced. */
function variant(name: string, spec: Obj): string | undefined {
  const text = readFileSync(join(root, name, 'input.yaml'), 'utf8');
  if (text.trimStart().startsWith('{')) return undefined;
  const list = parse(text, { version: '1.1' }) as Obj;
  if (list.functionConfig?.kind !== 'RayTLS' && list.functionConfig !== undefined) return undefined;
  const base = list.functionConfig?.spec ?? {};
  list.functionConfig = {
    apiVersion: 'ray-tls.io/v1alpha1',
    kind: 'RayTLS',
    metadata: { name: 'x' },
    spec: { ...base, ...spec },
  };
  return stringify(list, { version: '1.1', lineWidth: 0, indentSeq: false });
}

describe('emitted resources pass their schema', () => {
  it.each(examples)('example %s', (name) => {
    for (const item of emitted(readFileSync(join(root, name, 'expected.yaml'), 'utf8')))
      expect(() => validateManifest(item as { apiVersion: string; kind: string }), item.metadata.name).not.toThrow();
  });

  const specs = [
    { mode: 'per-pod', privateKey: { algorithm: 'ECDSA', size: 384 }, ca: { trust: ['ray-tls-ca-2'] } },
    { mode: 'pod-dns' },
    { mode: 'shared', ca: { issuerRef: { name: 'corp', kind: 'ClusterIssuer' } } },
  ];
  it.each(specs)('every example in mode $mode', (spec) => {
    let count = 0;
    for (const name of examples) {
      const input = variant(name, spec);
      if (input === undefined) continue;
      const out = run(input);
      if (out.exitCode !== 0) continue; // pod-dns refuses some inputs (items without a namespace): a result says so
      for (const item of emitted(out.stdout)) {
        count++;
        expect(() => validateManifest(item as { apiVersion: string; kind: string }), item.metadata.name).not.toThrow();
      }
    }
    expect(count).toBeGreaterThan(10);
  });
});
