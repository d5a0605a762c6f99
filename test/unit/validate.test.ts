// The validator against the function's own output: what ray-tls renders passes (the shared
// mode with a warning: its certificate cannot name a pod IP), except the pods an opt-out
// annotation kept plaintext, which the validator does not exempt.
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
  it.each(rendered.filter((n) => !n.startsWith('shared-') && n !== 'annotations'))('%s passes', (name) => {
    const out = run(readFileSync(join(examples, name, 'expected.yaml'), 'utf8'), undefined, true);
    expect(out.stderr.filter((l) => l.startsWith('error'))).toEqual([]);
    expect(out.exitCode).toBe(0);
  });

  it.each([
    ['shared-multi-node', ['ray-head', 'ray-worker']],
    ['shared-single-node', ['ray-head']],
  ])('%s passes with a warning: a certificate from a Secret cannot name the pod IP', (name, nodes) => {
    const out = run(readFileSync(join(examples, name, 'expected.yaml'), 'utf8'), undefined, true);
    expect(out.exitCode).toBe(0);
    const warnings = (
      parse(out.stdout).results as { severity: string; message: string; resourceRef?: { name: string } }[]
    ).filter((r) => r.severity !== 'info' && r.resourceRef);
    expect(warnings.every((w) => w.severity === 'warning')).toBe(true);
    expect(warnings.map((e) => e.resourceRef!.name).sort()).toEqual(nodes);
    expect(warnings[0].message).toMatch(
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

  it('does not exempt the pods an opt-out annotation kept plaintext, and names the annotation', () => {
    const out = run(readFileSync(join(examples, 'annotations', 'expected.yaml'), 'utf8'), undefined, true);
    expect(out.exitCode).toBe(1);
    const errors = out.stderr.filter((l) => l.startsWith('error:') && !l.includes('problem(s)'));
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(
      /Deployment x\/legacy-ray .*lacks TLS.*annotation ray-tls.io\/skip: "true" does not exempt/,
    );
    expect(errors[1]).toMatch(/Deployment x\/docs .*lacks TLS.*annotation ray-tls.io\/role: none does not exempt/);
  });
});
