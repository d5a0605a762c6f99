import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type Decoded, decodeResourceList, decodeStream, type Output } from '../../src/krm/resourceList.js';
import { InputError } from '../../src/yaml/errors.js';

const all = () => () => true;
const HEAD = 'apiVersion: config.kubernetes.io/v1\nkind: ResourceList\n';
const LIST = `---
# A list as kpt sends it
${HEAD}items:
- # ray-head.yaml head comment
  apiVersion: apps/v1
  kind: Deployment
  metadata:
    name: ray-head
  spec:
    template:
      spec:
        containers:
        - {name: ray, image: "rayproject/ray:2.58.0", args: [ray, start, --head]}
# a comment between items
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: settings}
  data:
    on: yes
    perms: 0644
- apiVersion: v1
  kind: "Service" # quoted, with a comment
  metadata:
    name: ray-head
  spec:
    selector: {app: h}
functionConfig:
  apiVersion: v1
  kind: ConfigMap
  metadata: {name: fn}
  data: {mode: shared}
`;
const NOTHING: Output = { newItems: [], results: [], dropped: new Set(), keepInput: false };

/** Which parser decoded the input: the fast path gives each item an editor over its own slice. */
const path = (d: Decoded, input: string) =>
  d.items.length === 0 ? 'none' : d.items.every((i) => i.editor.text === input) ? 'full' : 'fast';
const summary = (d: Decoded) => d.items.map((i) => ({ position: i.position, value: i.node.toJSON() as unknown }));
const asJson = (yaml: string) => JSON.stringify(parse(yaml), null, 1);

describe('the fast path and the full parser agree', () => {
  it('on the items, their positions and values, and the functionConfig', () => {
    const fast = decodeResourceList(LIST, all);
    const json = asJson(LIST);
    const full = decodeResourceList(json, all);
    expect(path(fast, LIST)).toBe('fast');
    expect(path(full, json)).toBe('full');
    expect(summary(fast).map((s) => s.position)).toEqual([0, 1, 2]);
    expect(summary(fast)).toEqual(summary(full));
    expect(fast.functionConfig).toEqual({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'fn' },
      data: { mode: 'shared' },
    });
    expect(full.functionConfig).toEqual(fast.functionConfig);
  });

  it('a YAML directive forces the full parser, with the same result', () => {
    const directive = `%YAML 1.2\n${LIST}`;
    const full = decodeResourceList(directive, all);
    expect(path(full, directive)).toBe('full');
    expect(summary(full)).toEqual(summary(decodeResourceList(LIST, all)));
  });

  it('the fast path parses only the interesting kinds, at their real positions', () => {
    const fast = decodeResourceList(LIST, () => (k) => k === 'Service');
    expect(fast.items.map((i) => [i.position, (i.node.toJSON() as { kind: string }).kind])).toEqual([[2, 'Service']]);
  });

  it('encoding with no changes gives the input back byte for byte', () => {
    expect(decodeResourceList(LIST, all).encode(NOTHING)).toBe(LIST);
    const json = asJson(LIST);
    expect(decodeResourceList(json, all).encode(NOTHING)).toBe(json);
  });

  it("kpt's `- # head comment` item keeps its comment inside the item", () => {
    const fast = decodeResourceList(LIST, all);
    expect(fast.items[0].editor.text.startsWith('- # ray-head.yaml head comment\n  apiVersion: apps/v1\n')).toBe(true);
    expect((fast.items[0].node.toJSON() as { metadata: unknown }).metadata).toEqual({ name: 'ray-head' });
  });

  // docs/design.md §6: anything the line scan cannot prove safe must take the full parser.
  it('a flow-style item inside a block list takes the full parser and is found', () => {
    const input =
      `${HEAD}items:\n- {apiVersion: v1, kind: Pod, metadata: {name: p}, spec: {containers: [{name: r, ` +
      `image: i, args: [ray, start]}]}}\n`;
    expect(decodeResourceList(input, () => (k) => k === 'Pod').items.map((i) => i.position)).toEqual([0]);
  });

  it("a nested `kind:` before the item's own kind does not hide the item", () => {
    const input = `${HEAD}items:
- apiVersion: v1
  metadata:
    name: p
    ownerReferences:
    - apiVersion: v1
      kind: ConfigMap
      name: y
      uid: "1"
  kind: Pod
  spec: {containers: [{name: r, image: i}]}
`;
    expect(decodeResourceList(input, () => (k) => k === 'Pod').items.map((i) => i.position)).toEqual([0]);
  });
});

describe('the fast path', () => {
  it('replaces earlier results instead of appending to them', () => {
    const input =
      `${HEAD}items:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: p}\nresults:\n  - {severity: ` +
      `info, message: old}\nfunctionConfig: {}\n`;
    const d = decodeResourceList(input, all);
    expect(path(d, input)).toBe('fast');
    const out = d.encode({ ...NOTHING, results: [{ severity: 'info', message: 'new' }] });
    expect(out).toBe(
      `${HEAD}items:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: p}\nfunctionConfig: {}\nresults:\n- ` +
        `severity: info\n  message: new\n`,
    );
  });

  it('results at column 0 (as the function writes them) keep a re-run on the fast path, and are replaced', () => {
    const input =
      `${HEAD}items:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: p}\nresults:\n- {severity: info, ` +
      `message: old}\nfunctionConfig: {}\n`;
    const d = decodeResourceList(input, all);
    expect(path(d, input)).toBe('fast');
    const out = d.encode({ ...NOTHING, results: [{ severity: 'info', message: 'new' }] });
    expect(out).toBe(
      `${HEAD}items:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: p}\nfunctionConfig: {}\nresults:\n- ` +
        `severity: info\n  message: new\n`,
    );
  });

  it('appends new items after the last item, drops items, keeps later sections', () => {
    const out = decodeResourceList(LIST, all).encode({
      ...NOTHING,
      dropped: new Set([1]),
      newItems: [{ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' } }],
    });
    const parsed = parse(out) as { items: { kind: string }[]; functionConfig: unknown };
    expect(parsed.items.map((i) => i.kind)).toEqual(['Deployment', 'Service', 'Secret']);
    expect(out).toContain(
      '  kind: "Service" # quoted, with a comment\n  metadata:\n    name: ray-head\n  spec:\n    selector: {app: ' +
        'h}\n- apiVersion: v1\n  kind: Secret\n',
    );
    expect(parsed.functionConfig).toEqual({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'fn' },
      data: { mode: 'shared' },
    });
  });

  it('keepInput passes the items through untouched and adds only the results', () => {
    const d = decodeResourceList(LIST, all);
    d.items[0].editor.insert(0, '# changed\n');
    const out = d.encode({
      newItems: [{ kind: 'X' }],
      dropped: new Set([1]),
      results: [{ severity: 'error', message: 'bad' }],
      keepInput: true,
    });
    expect(out).toBe(`${LIST}results:\n- severity: error\n  message: bad\n`);
  });

  it('reads CRLF input, and its output is valid YAML', () => {
    const crlf = LIST.replace(/\n/g, '\r\n');
    const d = decodeResourceList(crlf, all);
    expect(path(d, crlf)).toBe('fast');
    expect(summary(d)).toEqual(summary(decodeResourceList(LIST, all)));
    const out = d.encode({ ...NOTHING, newItems: [{ kind: 'Secret' }], results: [{ message: 'm' }] });
    expect((parse(out) as { items: { kind: string }[] }).items.map((i) => i.kind)).toEqual([
      'Deployment',
      'ConfigMap',
      'Service',
      'Secret',
    ]);
  });

  it('an indented items sequence takes the full parser', () => {
    const input = `${HEAD}items:\n  - apiVersion: v1\n    kind: Pod\n    metadata: {name: p}\n`;
    const d = decodeResourceList(input, all);
    expect(path(d, input)).toBe('full');
    expect(d.items.map((i) => i.position)).toEqual([0]);
  });
});

describe('lists without items', () => {
  it('`items: []` stays on the fast path; new items replace the empty list as block entries', () => {
    const input = `${HEAD}items: [] # none yet\n# a comment\nfunctionConfig: {}\n`;
    const d = decodeResourceList(input, all);
    expect(d.items).toEqual([]);
    expect(d.encode(NOTHING)).toBe(input);
    const out = d.encode({ ...NOTHING, newItems: [{ kind: 'Secret' }], results: [{ message: 'm' }] });
    expect(out).toBe(`${HEAD}items:\n# a comment\n- kind: Secret\nfunctionConfig: {}\nresults:\n- message: m\n`);
  });

  it('a list without `items` decodes to no items and gains them on encode', () => {
    const d = decodeResourceList(HEAD, all);
    expect(d.items).toEqual([]);
    expect(d.functionConfig).toBeUndefined();
    expect(parse(d.encode({ ...NOTHING, newItems: [{ kind: 'Secret' }] }))).toEqual({
      apiVersion: 'config.kubernetes.io/v1',
      kind: 'ResourceList',
      items: [{ kind: 'Secret' }],
    });
  });

  it('JSON input gets JSON-style results', () => {
    const input = '{"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList", "items": []}';
    const out = decodeResourceList(input, all).encode({ ...NOTHING, results: [{ message: 'm' }] });
    expect(out).toBe(
      '{"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList", "items": [], "results": [{"message":"m"}]}',
    );
  });
});

describe('input errors', () => {
  const error = (input: string): string => {
    try {
      decodeResourceList(input, all);
    } catch (e) {
      expect(e).toBeInstanceOf(InputError);
      return (e as Error).message;
    }
    throw new Error('input was accepted');
  };

  it('empty input', () => {
    expect(error('')).toBe(
      'stdin is empty: expected a ResourceList (apiVersion: config.kubernetes.io/v1, kind: ResourceList, items: [...])',
    );
    expect(error(' \n\n')).toMatch(/^stdin is empty/);
  });

  it('input that is not YAML', () => {
    expect(error('items: [\n')).toMatch(/^input is not valid YAML: /);
    expect(error('a: b: c\n')).toMatch(/^input is not valid YAML: Nested mappings/);
  });

  it('YAML that is not a mapping', () => {
    expect(error('hello world\n')).toBe('input is not a YAML mapping: expected a ResourceList');
    expect(error('- a\n- b\n')).toBe('input is not a YAML mapping: expected a ResourceList');
  });

  it('a Deployment instead of a ResourceList says how to pipe one', () => {
    expect(error('apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\n')).toBe(
      'input is a Deployment, not a ResourceList: pipe a ResourceList (kpt fn source DIR | ray-tls), or run through ' +
        'kpt or kustomize',
    );
  });

  it('another ResourceList apiVersion, on either path', () => {
    const message = 'ResourceList apiVersion config.kubernetes.io/v2 is not supported: use config.kubernetes.io/v1';
    expect(error('apiVersion: config.kubernetes.io/v2\nkind: ResourceList\nitems:\n- {kind: Pod}\n')).toBe(message);
    expect(error('{"apiVersion": "config.kubernetes.io/v2", "kind": "ResourceList", "items": []}')).toBe(message);
  });

  it('duplicate keys inside an item name the item and the line', () => {
    expect(
      error(`${HEAD}items:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: b}\n  metadata: {name: c}\n`),
    ).toMatch(/^items\[0\] is not valid YAML: Map keys must be unique at line 4/);
    expect(
      error(
        `{"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList", "items": [{"kind": "Pod", "kind": "Pod"}]}`,
      ),
    ).toMatch(/^input is not valid YAML: Map keys must be unique/);
  });

  it('duplicate top-level keys and several documents', () => {
    expect(error(`${HEAD}kind: ResourceList\nitems: []\n`)).toMatch(
      /^input is not valid YAML: Map keys must be unique/,
    );
    expect(error(`${HEAD}items: []\n---\na: 1\n`)).toMatch(
      /^input holds several YAML documents: expected one ResourceList/,
    );
  });

  it('items that are not a list', () => {
    expect(error(`${HEAD}items: 3\n`)).toBe('ResourceList items must be a list');
  });
});

describe('decodeStream (legacy exec plugin)', () => {
  const STREAM =
    'apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n---\n# second\napiVersion: v1\nkind: ConfigMap\nmetadata: ' +
    '{name: b}\n--- # third\napiVersion: v1\nkind: Service\nmetadata: {name: c}\n';

  it('each document is one item at its position; no functionConfig', () => {
    const d = decodeStream(STREAM, (k) => k !== 'ConfigMap');
    expect(d.items.map((i) => [i.position, (i.node.toJSON() as { kind: string }).kind])).toEqual([
      [0, 'Pod'],
      [2, 'Service'],
    ]);
    expect(d.functionConfig).toBeUndefined();
  });

  it('copies the stream through and appends new documents', () => {
    const d = decodeStream(STREAM, all());
    expect(d.encode(NOTHING)).toBe(STREAM);
    expect(d.encode({ ...NOTHING, dropped: new Set([1]), newItems: [{ kind: 'Secret' }] })).toBe(
      'apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n--- # third\napiVersion: v1\nkind: Service\nmetadata: {name: ' +
        'c}\n---\nkind: Secret\n',
    );
  });

  it('gives new documents the annotations asked for, over their own; the input keeps its bytes', () => {
    const d = decodeStream(STREAM, all(), { 'helm.example/file': 'chart/ray-tls.yaml' });
    const added = { kind: 'Issuer', metadata: { name: 'x', annotations: { own: 'kept' } } };
    expect(d.encode({ ...NOTHING, newItems: [added, { kind: 'Bare' }] })).toBe(
      `${STREAM}---\nkind: Issuer\nmetadata:\n  name: x\n  annotations:\n    own: kept\n` +
        '    helm.example/file: chart/ray-tls.yaml\n---\nkind: Bare\n',
    );
  });
});
