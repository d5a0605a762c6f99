// The editor lays out the block YAML of inserted values itself (src/yaml/edit.ts, for speed):
// it must print exactly what `yaml`'s stringify prints with the editor's options, for any value.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { blockDocument, blockItem, plainBlock } from '../../src/yaml/edit.js';
import type { Json } from '../../src/yaml/json.js';

const OPTIONS = { version: '1.1', lineWidth: 0, flowCollectionPadding: false, aliasDuplicateObjects: false } as const;

// Strings that exercise yaml's quoting and block-literal rules, and keys plain or not.
const text = fc.oneof(
  fc.string(),
  fc.constantFrom(
    'on',
    'yes',
    'No',
    '0644',
    '1e3',
    'E0',
    'e-5',
    '',
    ' lead',
    'trail ',
    'a: b',
    '- x',
    '#c',
    'x #y',
    '~',
    'null',
  ),
  fc.array(fc.constantFrom('line', '  indented', '', 'a: b', '# c', '\t'), { maxLength: 5 }).map((l) => l.join('\n')),
  fc.constantFrom('script\n', 'two\n\n', '\nlead', 'x\n  y\n', ' sp\nz'),
);
const key = fc.oneof(
  fc.constantFrom('name', 'app.kubernetes.io/name', 'on', 'a b', '1', 'x-y_z', 'E0', 'e-12', 'e1x'),
  fc.string(),
);
const json: fc.Arbitrary<Json> = fc.letrec<{ value: Json }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    text,
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(key, tie('value'), { maxKeys: 4 }),
  ),
})).value;

describe('block layout', () => {
  it.each([false, true])('prints what yaml prints (wide sequences: %s)', (wide) => {
    fc.assert(
      fc.property(json, (v) => {
        expect(blockDocument(v, wide)).toBe(stringify(v, { ...OPTIONS, indentSeq: wide }));
        // A list item is a resource: a map (a lone scalar goes to yaml as it always did).
        if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
          const yaml = stringify([v], { ...OPTIONS, indentSeq: wide });
          expect(blockItem(v, 0, wide)).toBe(yaml);
          expect(blockItem(v, 4, wide)).toBe(yaml.replace(/^(?=.)/gm, '    '));
        }
      }),
      { numRuns: 5000 },
    );
  });

  it('indents every line of an item after the first, block literals too', () => {
    const v = { name: 'x', command: ['sh', '-c', 'a\nb\n'], env: [{ name: 'E', value: 'on' }] };
    expect(blockItem(v, 4, false)).toBe(
      [
        '    - name: x',
        '      command:',
        '      - sh',
        '      - -c',
        '      - |',
        '        a',
        '        b',
        '      env:',
        '      - name: E',
        '        value: "on"',
        '',
      ].join('\n'),
    );
  });
});

describe('plain block (results)', () => {
  it('reads back as the same data under YAML 1.1, look-alikes of booleans, null and floats quoted', () => {
    const v = { E0: 'e-5', name: 'on', n: 'Null', path: 'a/b.c', list: ['E7', 1], empty: {} };
    expect(parse(`root:${plainBlock(v, 2)}`, { version: '1.1' })).toEqual({ root: v });
    expect(plainBlock('E0')).toBe(' "E0"\n');
  });
});
