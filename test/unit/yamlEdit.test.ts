import { describe, expect, it } from 'vitest';
import { type Node, parse, parseDocument, type YAMLMap, type YAMLSeq } from 'yaml';
import { PARSE } from '../../src/krm/resourceList.js';
import { blockDocument, blockItem, Editor, plainItems } from '../../src/yaml/edit.js';
import type { Json } from '../../src/yaml/json.js';

/** Parses `src`, runs `edit` with an Editor over it, returns the spliced text. */
function edit(
  src: string,
  change: (e: Editor, at: (...path: (string | number)[]) => Node) => void,
  wideSeqs = false,
): string {
  const doc = parseDocument(src, PARSE);
  const e = new Editor(src, wideSeqs);
  change(e, (...path) => (path.length ? doc.getIn(path, true) : doc.contents) as Node);
  return e.apply();
}
const map = (n: Node) => n as YAMLMap;
const seq = (n: Node) => n as YAMLSeq;

describe('addPair', () => {
  it('adds a scalar at the end of a block map, at its indentation', () => {
    expect(edit('m:\n  a: 1\nz: 0\n', (e, at) => e.addPair(map(at('m')), 'b', 2))).toBe('m:\n  a: 1\n  b: 2\nz: 0\n');
  });

  it('adds a list in compact style (dash at the key column)', () => {
    const src = 'spec:\n  containers:\n  - name: a\n';
    expect(edit(src, (e, at) => e.addPair(map(at('spec')), 'volumes', [{ name: 'v', emptyDir: {} }]))).toBe(
      'spec:\n  containers:\n  - name: a\n  volumes:\n  - name: v\n    emptyDir: {}\n',
    );
  });

  it('adds a list in wide style (dash indented under the key), nested lists too', () => {
    const src = 'spec:\n  containers:\n    - name: a\n';
    expect(
      edit(src, (e, at) => e.addPair(map(at('spec')), 'volumes', [{ name: 'v', items: [{ key: 'k' }] }]), true),
    ).toBe('spec:\n  containers:\n    - name: a\n  volumes:\n    - name: v\n      items:\n        - key: k\n');
  });

  it('adds a nested map as block YAML', () => {
    expect(edit('m:\n  a: 1\n', (e, at) => e.addPair(map(at('m')), 'annotations', { x: { k: 'v' } }))).toBe(
      'm:\n  a: 1\n  annotations:\n    x:\n      k: v\n',
    );
  });

  it('adds empty collections in flow style', () => {
    expect(edit('m:\n  a: 1\n', (e, at) => e.addPair(map(at('m')), 'b', {}))).toBe('m:\n  a: 1\n  b: {}\n');
    expect(edit('m:\n  a: 1\n', (e, at) => e.addPair(map(at('m')), 'b', []))).toBe('m:\n  a: 1\n  b: []\n');
  });

  it('quotes strings that YAML 1.1 would read as booleans or octal', () => {
    const out = edit('m:\n  a: 1\n', (e, at) => {
      e.addPair(map(at('m')), 'debug', 'on');
      e.addPair(map(at('m')), 'mode', '0644');
      e.addPair(map(at('m')), 'y', 'yes');
    });
    expect(out).toBe('m:\n  a: 1\n  debug: "on"\n  mode: "0644"\n  "y": "yes"\n');
    expect(parseDocument(out, { version: '1.1' }).toJS()).toEqual({ m: { a: 1, debug: 'on', mode: '0644', y: 'yes' } });
  });

  it('adds to a flow map before its closing brace', () => {
    expect(edit('m: {a: 1}\n', (e, at) => e.addPair(map(at('m')), 'b', { c: 'on' }))).toBe(
      'm: {a: 1, "b": {"c":"on"}}\n',
    );
  });

  it('adds to an empty map `{}`', () => {
    expect(edit('m: {}\n', (e, at) => e.addPair(map(at('m')), 'b', 2))).toBe('m: {"b": 2}\n');
  });

  it('adds after the last line when the source has no trailing newline', () => {
    expect(edit('a:\n  b: 1', (e, at) => e.addPair(map(at('a')), 'c', 2))).toBe('a:\n  b: 1\n  c: 2\n');
  });

  it('two additions at the same place keep their order', () => {
    const out = edit('m:\n  a: 1\n', (e, at) => {
      e.addPair(map(at('m')), 'b', 2);
      e.addPair(map(at('m')), 'c', 3);
    });
    expect(out).toBe('m:\n  a: 1\n  b: 2\n  c: 3\n');
  });
});

describe('appendItems', () => {
  it('appends to a compact block sequence of maps at the dash column', () => {
    const src = 'spec:\n  env:\n  - name: A\n    value: "1"\n  image: x\n';
    expect(edit(src, (e, at) => e.appendItems(seq(at('spec', 'env')), [{ name: 'B', value: '2' }]))).toBe(
      'spec:\n  env:\n  - name: A\n    value: "1"\n  - name: B\n    value: "2"\n  image: x\n',
    );
  });

  it('appends to a wide sequence that ends the source without a newline', () => {
    const out = edit('items:\n  - a\n  - b', (e, at) => e.appendItems(seq(at('items')), ['c', { x: 1, l: [1] }]), true);
    expect(out).toBe('items:\n  - a\n  - b\n  - c\n  - x: 1\n    l:\n      - 1\n');
    expect(parse(out)).toEqual({ items: ['a', 'b', 'c', { x: 1, l: [1] }] });
  });

  it('appends before a comment that follows the sequence', () => {
    expect(edit('l:\n- a\n# about z\nz: 1\n', (e, at) => e.appendItems(seq(at('l')), ['b']))).toBe(
      'l:\n- a\n- b\n# about z\nz: 1\n',
    );
  });

  it('appends to flow sequences and `[]`', () => {
    expect(edit('l: [a, b]\n', (e, at) => e.appendItems(seq(at('l')), ['c', { x: 1 }]))).toBe(
      'l: [a, b, "c", {"x":1}]\n',
    );
    expect(edit('l: []\n', (e, at) => e.appendItems(seq(at('l')), ['c']))).toBe('l: ["c"]\n');
  });

  it('appending nothing changes nothing', () => {
    const e = new Editor('l: [a]\n');
    e.appendItems(seq(parseDocument('l: [a]\n').get('l', true) as Node), []);
    expect(e.changed).toBe(false);
  });
});

describe('prependItem', () => {
  it('inserts before the first entry of a block sequence, compact or wide', () => {
    expect(edit('l:\n- a\n', (e, at) => e.prependItem(seq(at('l')), { name: 'z', v: 1 }))).toBe(
      'l:\n- name: z\n  v: 1\n- a\n',
    );
    expect(edit('l:\n  - a\n', (e, at) => e.prependItem(seq(at('l')), 'z'), true)).toBe('l:\n  - z\n  - a\n');
  });

  it('inserts after the bracket of a flow sequence', () => {
    expect(edit('l: [a]\n', (e, at) => e.prependItem(seq(at('l')), 'z'))).toBe('l: ["z", a]\n');
    expect(edit('l: []\n', (e, at) => e.prependItem(seq(at('l')), 'z'))).toBe('l: ["z"]\n');
  });
});

describe('replace', () => {
  it('replaces a scalar and keeps its comment', () => {
    expect(edit('a: 1 # why\nb: x\n', (e, at) => e.replace(at('a'), 'on', false))).toBe('a: "on" # why\nb: x\n');
  });

  it('replaces a scalar by a collection in flow style', () => {
    expect(edit('a: ~\nb: x\n', (e, at) => e.replace(at('a'), { k: 1 }, false))).toBe('a: {"k":1}\nb: x\n');
  });

  it('replaces a block map in place', () => {
    expect(edit('a:\n  x: 1\n  y: 2\nb: x\n', (e, at) => e.replace(at('a'), { z: 3 }, false))).toBe(
      'a:\n  z: 3\nb: x\n',
    );
  });

  it('replaces a block sequence entry', () => {
    expect(
      edit('l:\n- name: a\n  x: 1\n- name: b\n', (e, at) => e.replace(at('l', 0), { name: 'a', x: 2 }, false)),
    ).toBe('l:\n- name: a\n  x: 2\n- name: b\n');
  });

  it('replaces an entry of a flow sequence as JSON', () => {
    expect(edit('l: [{name: a}, b]\n', (e, at) => e.replace(at('l', 0), { name: 'q' }, true))).toBe(
      'l: [{"name":"q"}, b]\n',
    );
  });
});

describe('remove', () => {
  it('removes the whole lines of a block entry', () => {
    expect(edit('- a\n- b\n- c\n', (e, at) => e.remove(at(1), false))).toBe('- a\n- c\n');
    expect(edit('l:\n- name: a\n  x: 1\n- name: b\nz: 1\n', (e, at) => e.remove(at('l', 0), false))).toBe(
      'l:\n- name: b\nz: 1\n',
    );
    expect(edit('- a\n- b', (e, at) => e.remove(at(1), false))).toBe('- a\n');
  });

  it('removes a flow entry with one comma', () => {
    expect(edit('[a, b, c]\n', (e, at) => e.remove(at(1), true))).toBe('[a, c]\n');
    expect(edit('[a, b, c]\n', (e, at) => e.remove(at(2), true))).toBe('[a, b]\n');
    expect(edit('[a]\n', (e, at) => e.remove(at(0), true))).toBe('[]\n');
  });
});

describe('apply', () => {
  it('returns the text itself when nothing changed', () => {
    const e = new Editor('a: 1\n');
    expect(e.changed).toBe(false);
    expect(e.apply()).toBe('a: 1\n');
  });

  it('rejects overlapping edits', () => {
    expect(() =>
      edit('a: 1\n', (e, at) => {
        e.replace(at('a'), 2, false);
        e.replace(at('a'), 3, false);
      }),
    ).toThrow('overlapping YAML edits');
    expect(() =>
      edit('l:\n- a\n- b\n', (e, at) => {
        e.replace(at('l'), ['x'], false);
        e.remove(at('l', 0), false);
      }),
    ).toThrow('overlapping YAML edits');
  });

  it('copies every untouched byte: comments, quoting, `on`, octal-looking strings, flow maps', () => {
    const src = [
      '# head comment',
      'metadata:',
      '  name: x   # trailing comment',
      "  mode: '0644'",
      '  perms: 0644',
      '  on: yes',
      '  flow: {a: 1,   b: 2}',
      'spec:',
      '  containers:',
      '    - name: a',
      '',
    ].join('\n');
    const out = edit(src, (e, at) => e.appendItems(seq(at('spec', 'containers')), [{ name: 'b' }]), true);
    expect(out).toBe(`${src}    - name: b\n`);
    expect(parseDocument(out, { version: '1.1' }).toJS()).toEqual({
      metadata: { name: 'x', mode: '0644', perms: 0o644, true: true, flow: { a: 1, b: 2 } },
      spec: { containers: [{ name: 'a' }, { name: 'b' }] },
    });
  });

  it('inserted lines follow CRLF sources', () => {
    const out = edit('m:\r\n  a: 1\r\n', (e, at) => e.addPair(map(at('m')), 'b', 2));
    expect(out).toBe('m:\r\n  a: 1\r\n  b: 2\r\n');
    expect(parse(out)).toEqual({ m: { a: 1, b: 2 } });
  });
});

describe('blockItem and blockDocument', () => {
  it('serialise new list items and stream documents as YAML 1.1-safe block text', () => {
    expect(blockItem({ kind: 'Issuer', spec: { selfSigned: {} }, data: ['on'] }, 0, false)).toBe(
      '- kind: Issuer\n  spec:\n    selfSigned: {}\n  data:\n  - "on"\n',
    );
    expect(blockItem({ a: 1 }, 2, false)).toBe('  - a: 1\n');
    expect(blockDocument({ a: { b: [1] } }, true)).toBe('a:\n  b:\n    - 1\n');
  });

  it('never folds long strings', () => {
    const long = 'x '.repeat(100).trim();
    expect(blockDocument({ long }, false)).toBe(`long: ${long}\n`);
  });
});

describe('plainItems (results)', () => {
  it('writes block YAML that parses back to the same data, whatever the strings and keys hold', () => {
    const values = [
      {
        message: 'a: "b" # not a comment\nsecond line',
        severity: 'info',
        field: {
          path: 'spec.x',
          currentValue: { 'odd: key': 'on', 'ray-tls.io/role': 'yes', empty: {}, n: 'N' },
          proposedValue: [1, 'two'],
        },
      } as Json,
      { severity: 'warning', message: '0644', file: { path: 'f.yaml', index: 0 } } as Json,
    ];
    const text = plainItems(values);
    expect(text.startsWith('- message: "a: \\"b\\" # not a comment\\nsecond line"\n  severity: info\n')).toBe(true);
    expect(parse(text, { version: '1.1' })).toEqual(values);
  });
});
