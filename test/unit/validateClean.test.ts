// The validator raises no false alarm: every fixture (the validator fixture, the examples, the
// corpus) rendered under every config (every mode and option) validates clean. It iterates the
// renders, so it keeps catching regressions whenever the function's output changes.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from '../../src/function/run.js';
import { CONFIGS, FIXTURE, problems, render, validate, withConfig } from '../support/validator.js';

describe('no false alarms: the function output for every config validates clean', () => {
  const dir = (name: string) => join(import.meta.dirname, '..', name);
  const inputsOf = (root: string) =>
    readdirSync(dir(root))
      .filter((n) => !n.startsWith('error-') && n !== 'annotations' && n !== 'empty-list')
      .map((n): [string, string] => [`${root}/${n}`, readFileSync(join(dir(root), n, 'input.yaml'), 'utf8')]);
  const inputs: [string, string][] = [['fixture', FIXTURE], ...inputsOf('examples'), ...inputsOf('corpus')];
  it.each(Object.entries(CONFIGS))('%s', (_name, spec) => {
    let rendered = 0;
    for (const [name, input] of inputs) {
      const out = run(withConfig(input, spec));
      if (out.exitCode !== 0) continue; // an input this config cannot render (pod-dns without a namespace)
      rendered++;
      const checked = validate(out.stdout);
      expect(problems(checked.results), `${name}: ${checked.stderr.join('\n')}`).toEqual([]);
      expect(checked.exitCode).toBe(0);
      // Validating it again without the config (the defaults) only differs where the config sets what ray-tls emits.
    }
    expect(rendered).toBeGreaterThan(inputs.length / 2);
  });

  it('shared mode passes with its warning', () => {
    const out = validate(render(FIXTURE, { mode: 'shared' }));
    expect(out.exitCode).toBe(0);
    expect(out.stderr.some((l) => l.startsWith('warning:') && l.includes('cannot name the address Ray dials'))).toBe(
      true,
    );
  });
});
