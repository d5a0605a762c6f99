// The kpt packages under examples/ (scripts/examples.mjs makes them from the goldens) with the
// real kpt: each package is still its golden's input, `kpt fn render --allow-exec` changes it
// exactly as its .expected/diff.patch says, the rendered resources are the golden's output,
// and a second render changes nothing.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CASES, EXAMPLES, packageFiles, renderDiffs } from '../../scripts/examples.mjs';
import type { Obj } from '../support/emitted.js';
import { BUNDLE, ROOT } from '../support/paths.js';

const STALE = 'examples/ is stale: run `npm run examples:packages` and review the diff';

/** The lines a diff adds to each file (what rendering wrote). */
function added(diff: string): Map<string, string> {
  const files = new Map<string, string>();
  let file = '';
  for (const line of diff.split('\n')) {
    if (line.startsWith('+++ ')) file = line.slice(6);
    else if (line.startsWith('+')) files.set(file, `${files.get(file) ?? ''}${line.slice(1)}\n`);
  }
  return files;
}

/** The item as kpt writes it to a file: without the annotations kpt adds when it reads one. */
function asWritten(item: Obj): Obj {
  const annotations = Object.entries(item.metadata.annotations ?? {}).filter(
    ([k]) => !/^(internal\.)?config\.kubernetes\.io\/(path|index)$/.test(k),
  );
  const { annotations: _, ...metadata } = item.metadata;
  return {
    ...item,
    metadata: annotations.length ? { ...metadata, annotations: Object.fromEntries(annotations) } : metadata,
  };
}

it('has one package per golden that a package can show', () => {
  expect(existsSync(BUNDLE)).toBe(true);
  expect(readdirSync(EXAMPLES).sort(), STALE).toEqual(CASES);
});

describe.each(CASES)('example package %s', (name) => {
  const dir = join(EXAMPLES, name);

  it('is its golden input', () => {
    const files = packageFiles(name);
    const onDisk = readdirSync(dir).filter((f) => f !== '.expected');
    expect(onDisk.sort(), STALE).toEqual([...files.keys()].sort());
    for (const [file, text] of files) expect(readFileSync(join(dir, file), 'utf8'), `${file}: ${STALE}`).toBe(text);
  });

  it('renders to its expected diff with the real kpt, and a second render changes nothing', () => {
    const [first, second] = renderDiffs(dir, 2);
    expect(first, STALE).toBe(readFileSync(join(dir, '.expected', 'diff.patch'), 'utf8'));
    expect(second).toBe('');
  });

  it("emits the golden's resources into ray-tls.yaml", () => {
    const golden = (
      parse(readFileSync(join(ROOT, 'test', 'examples', name, 'expected.yaml'), 'utf8')).items as Obj[]
    ).filter((i) => i.metadata?.labels?.['app.kubernetes.io/managed-by'] === 'ray-tls');
    const diff = readFileSync(join(dir, '.expected', 'diff.patch'), 'utf8');
    const written = added(diff).get('ray-tls.yaml');
    const emitted = written === undefined ? [] : written.split(/^---\n/m).map((d) => parse(d));
    // kpt sends the package's files in path order, so the emitted resources may come in another order.
    const key = (i: Obj) => `${i.kind}/${i.metadata.namespace}/${i.metadata.name}`;
    const sorted = (items: Obj[]) => [...items].sort((a, b) => key(a).localeCompare(key(b)));
    expect(sorted(emitted)).toEqual(sorted(golden.map(asWritten)));
  });
});
