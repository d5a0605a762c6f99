// Golden examples: test/examples/<case>/input.yaml (a ResourceList with its
// functionConfig) must produce expected.yaml exactly, and running the function
// again on its own output must change no item. Cases named error-* must fail.
// Regenerate on purpose with `npm run examples:update`, then review the diff.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { run } from '../src/function/run.js';

const root = join(import.meta.dirname, 'examples');
const update = process.env.UPDATE_EXAMPLES === '1';
/** The output minus its results (which say what the run did, so a second run's differ). */
function withoutResults(text: string): unknown {
  if (text.trimStart().startsWith('{')) {
    const { results: _, ...rest } = parse(text) as Record<string, unknown>;
    return rest;
  }
  return text.replace(/^results:\n[\s\S]*$/m, '');
}

describe.each(readdirSync(root).sort())('example %s', (name) => {
  const dir = join(root, name);
  const input = readFileSync(join(dir, 'input.yaml'), 'utf8');
  const out = run(input);

  it('produces the expected output', () => {
    const expectedFile = join(dir, 'expected.yaml');
    if (update) writeFileSync(expectedFile, out.stdout);
    expect(existsSync(expectedFile), `${expectedFile} missing: run npm run examples:update`).toBe(true);
    expect(out.stdout).toBe(readFileSync(expectedFile, 'utf8'));
    expect(out.exitCode).toBe(name.startsWith('error-') ? 1 : 0);
  });

  it('is idempotent: a second run changes no item', () => {
    const again = run(out.stdout);
    expect(again.exitCode).toBe(out.exitCode);
    expect(withoutResults(again.stdout)).toEqual(withoutResults(out.stdout));
  });

  it('never writes key material', () => {
    expect(out.stdout).not.toMatch(/-----BEGIN [A-Z ]*PRIVATE KEY-----|tls\.key:\s+[A-Za-z0-9+/]{20}/);
  });
});
