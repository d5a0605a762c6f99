// The validator against the function's own output: what ray-tls renders passes,
// except the shared mode, whose certificate cannot name a pod IP (what it warns about).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { run } from '../../src/function/run.js';

const examples = join(import.meta.dirname, '..', 'examples');
const rendered = readdirSync(examples)
  .filter((n) => !n.startsWith('error-'))
  .sort();

describe('ray-tls validate on rendered output', () => {
  it.each(rendered.filter((n) => !n.startsWith('shared-')))('%s passes', (name) => {
    const out = run(readFileSync(join(examples, name, 'expected.yaml'), 'utf8'), undefined, true);
    expect(out.stderr.filter((l) => l.startsWith('error'))).toEqual([]);
    expect(out.exitCode).toBe(0);
  });

  it.each([
    ['shared-multi-node', ['ray-head', 'ray-worker']],
    ['shared-single-node', ['ray-head']],
  ])('%s fails: a certificate from a Secret cannot name the pod IP', (name, nodes) => {
    const out = run(readFileSync(join(examples, name, 'expected.yaml'), 'utf8'), undefined, true);
    expect(out.exitCode).toBe(1);
    const errors = (
      parse(out.stdout).results as { severity: string; message: string; resourceRef?: { name: string } }[]
    ).filter((r) => r.severity === 'error' && r.resourceRef);
    expect(errors.map((e) => e.resourceRef!.name).sort()).toEqual(nodes);
    expect(errors[0].message).toMatch(
      /comes from Secret ray-tls-certs, issued before the pod had an IP.*Use per-pod or pod-dns mode/,
    );
  });

  it('the unrendered input fails, one error per Ray container, and nothing changes', () => {
    const input = readFileSync(join(examples, 'django-ray-per-pod', 'input.yaml'), 'utf8');
    const out = run(input, undefined, true);
    expect(out.exitCode).toBe(1);
    expect(out.stdout.startsWith(input.replace(/\n$/, ''))).toBe(true);
    const lacking = out.stderr.filter((l) => l.includes('lacks TLS'));
    expect(lacking).toHaveLength(3); // ray-head, ray-worker, the Django-Ray worker
  });

  it('leaves resources annotated ray-tls.io/skip alone, like the transforming run', () => {
    const input = readFileSync(join(examples, 'shared-multi-node', 'expected.yaml'), 'utf8').replace(
      'metadata: {name: ray-worker, namespace: django-ray}',
      'metadata: {name: ray-worker, namespace: django-ray, annotations: {ray-tls.io/skip: "true"}}',
    );
    expect(input).toContain('ray-tls.io/skip');
    const errors = (
      parse(run(input, undefined, true).stdout).results as { severity: string; resourceRef?: { name: string } }[]
    ).filter((r) => r.severity === 'error' && r.resourceRef);
    expect(errors.map((e) => e.resourceRef!.name)).toEqual(['ray-head']);
  });
});
