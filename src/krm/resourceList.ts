// The ResourceList codec (KRM Functions Specification). Items are located
// without building one Document for the whole list: a line scan finds item
// boundaries, only items that can matter are parsed, and every other byte is
// copied through. Inputs the scan cannot prove safe (JSON, flow style,
// directives) take the full parser, which splices into the source the same way.
import {
  type Document,
  type DocumentOptions,
  isMap,
  isSeq,
  type Node,
  type ParseOptions,
  parseDocument,
  type YAMLMap,
  type YAMLSeq,
} from 'yaml';
import { blockDocument, blockItem, Editor, plainItems } from '../yaml/edit.js';
import { InputError, yamlProblem } from '../yaml/errors.js';
import { isMap as isJsonMap, type Json } from '../yaml/json.js';
import { toJson } from '../yaml/read.js';

export const PARSE: ParseOptions & DocumentOptions = {
  uniqueKeys: true,
  prettyErrors: true,
  keepSourceTokens: false,
  // The yaml library's own warnings (a mapping as a key) would go to stderr unasked; problems become results.
  logLevel: 'error',
};

/** One resource of the input, parsed, with the editor its node ranges point into. */
export interface Item {
  node: YAMLMap;
  doc: Document;
  editor: Editor;
  /** Position in the input's items. */
  position: number;
  /** The item as plain values, when read at decoding: an item only read keeps no Document (docs/design.md §6). */
  value?: Json;
  /** Lets go of the item's Document once its edits are made (it is parsed again if asked for). */
  release?(): void;
}

export interface Output {
  newItems: Json[];
  results: Json[];
  dropped: Set<number>;
  /** On an error nothing is changed: items pass through as they came, with the results. */
  keepInput: boolean;
}

export interface Decoded {
  items: Item[];
  functionConfig: Json | undefined;
  /** The source text of every item, parsed or not (for cheap scans such as kpt's file annotations). */
  itemTexts(): string[];
  /**
   * Builds the output: the input with every item's edits (unless `keepInput`), minus dropped
   * items, then new items and the results.
   */
  encode(out: Output): string;
  /** The same output in pieces, for writing without building one large string (docs/design.md §6). */
  encodePieces(out: Output): string[];
}

/**
 * Items the function reads or changes, by kind and source text; other items are copied unparsed.
 * `'read'`: an item the function most likely only reads (its Document is not kept).
 */
export type Interesting = (kind: string, text: string) => boolean | 'read';
/** Chooses the items to parse once the function config is known (it can widen the choice). */
export type Select = (functionConfig: Json | undefined) => Interesting;

const TOP_KEY = /^([A-Za-z_][\w.-]*):(?:[ \t]+(.*))?$/;

const noKind = (position: number) =>
  new InputError(`items[${position}] has no kind: every item must be a Kubernetes resource with apiVersion and kind`);

export function decodeResourceList(input: string, select: Select): Decoded {
  if (!input.trim())
    throw new InputError(
      'stdin is empty: expected a ResourceList (apiVersion: config.kubernetes.io/v1, kind: ResourceList, items: [...])',
    );
  return scanBlockList(input, select) ?? parseWholeList(input, select);
}

function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  if (starts[starts.length - 1] === text.length) starts.pop();
  return starts;
}

interface Section {
  key: string;
  start: number;
  end: number;
}

/** The column of an item's keys: after `-` and its spaces, or of its first line when the dash line holds a comment. */
function keyColumn(slice: string): number {
  const dash = /^-( +)(?!#)\S/.exec(slice);
  if (dash) return 1 + dash[1].length;
  const first = /\n( *)[^\s#]/.exec(slice);
  return first ? first[1].length : 2;
}

/** The item's own `kind` (a line at the item's key column, not a nested one such as an ownerReference's). */
function kindOf(slice: string, column: number): string | undefined {
  const at = column === 0 ? '' : `(?:-${' '.repeat(column - 1)}|${' '.repeat(column)})`;
  return new RegExp(`^${at}kind:[ \\t]*["']?([A-Za-z]+)["']?[ \\t]*(?:#.*)?\\r?$`, 'm').exec(slice)?.[1];
}

/** Anchors make items depend on each other: the line scan parses items alone, so leave those to the full parser. */
const ANCHOR = /(?:^|[\s:[{,-])&[^\s,[\]{}&]/m; // not a shell's `&&`

interface Layout {
  sections: Section[];
  itemStarts: number[];
  /** `items: []`, as kpt sends an empty package. */
  emptyFlowItems: boolean;
}

const lineAt = (input: string, at: number) => input.slice(at, input.indexOf('\n', at) >>> 0);

/**
 * The top-level sections and item starts of a block ResourceList at column 0, by lines;
 * undefined for anything the scan cannot prove safe (the full parser takes it).
 */
function scanLayout(input: string): Layout | undefined {
  const sections: Section[] = [];
  const itemStarts: number[] = [];
  let inItems = false;
  let emptyFlowItems = false;
  const starts = lineStarts(input);
  for (let n = 0; n < starts.length; n++) {
    const at = starts[n];
    const c = input[at];
    if (c === '\n' || c === '\r' || c === '#') continue;
    if (c === ' ' || c === '\t') {
      // Content of `items` before its first entry at column 0: an indented sequence.
      const line = lineAt(input, at);
      if (inItems && !itemStarts.length && /\S/.test(line) && !/^\s*#/.test(line)) return undefined;
      continue;
    }
    if (c === '-') {
      if (n === 0 && /^---[ \t]*\r?$/.test(lineAt(input, at))) continue;
      const next = input[at + 1];
      if (next !== ' ' && next !== '\n' && next !== '\r') return undefined;
      if (!inItems) {
        if (sections[sections.length - 1]?.key === 'results') continue; // our own earlier results
        return undefined;
      }
      if (/^-[ \t]+[[{]/.test(input.slice(at, at + 64))) return undefined; // a flow-style item
      itemStarts.push(at);
      continue;
    }
    const m = TOP_KEY.exec(lineAt(input, at).replace(/\r$/, ''));
    if (!m) return undefined;
    if (sections.length) sections[sections.length - 1].end = at;
    sections.push({ key: m[1], start: at, end: input.length });
    inItems = m[1] === 'items';
    if (inItems && m[2] !== undefined && !/^#/.test(m[2])) {
      if (!/^\[\][ \t]*(#.*)?$/.test(m[2])) return undefined; // flow items: the full parser
      emptyFlowItems = true;
    }
  }
  return { sections, itemStarts, emptyFlowItems };
}

/** The fast path; undefined when the input is not a block ResourceList at column 0. */
function scanBlockList(input: string, select: Select): Decoded | undefined {
  if (ANCHOR.test(input)) return undefined;
  const layout = scanLayout(input);
  const itemsSection = layout?.sections.find((s) => s.key === 'items');
  if (!layout || !itemsSection || layout.sections.filter((s) => s.key === 'items').length > 1) return undefined;

  // Everything but the items, as one small document: apiVersion, kind, functionConfig, results.
  const others = layout.sections.filter((s) => s !== itemsSection && s.key !== 'results');
  const header = parseDocument(others.map((s) => input.slice(s.start, s.end)).join(''), PARSE);
  if (header.errors.length) return undefined; // let the full parser report it against the real input
  checkResourceList(header.toJS() as Record<string, unknown>);
  const functionConfig = toJson(header.get('functionConfig', true) as Node | undefined, header);
  const { itemStarts } = layout;
  const slices = itemStarts.map((start, i) => ({ start, end: itemStarts[i + 1] ?? itemsSection.end }));
  const items = parseItems(input, slices, select(functionConfig));
  return {
    items,
    functionConfig,
    itemTexts: () => slices.map((s) => input.slice(s.start, s.end)),
    ...piecewise((out) => encodeBlockList(input, layout, itemsSection, slices, items, out)),
  };
}

/** Both ways of encoding, from the pieces. */
const piecewise = (pieces: (out: Output) => string[]): Pick<Decoded, 'encode' | 'encodePieces'> => ({
  encode: (out) => pieces(out).join(''),
  encodePieces: pieces,
});

/** The items that can matter, each parsed alone (an item whose kind the scan cannot read is parsed to tell). */
function parseItems(input: string, slices: { start: number; end: number }[], interesting: Interesting): Item[] {
  const items: Item[] = [];
  slices.forEach((s, position) => {
    const text = input.slice(s.start, s.end);
    const kind = kindOf(text, keyColumn(text));
    if (kind !== undefined && !interesting(kind, text)) return;
    const tree = parseItem(text, position);
    const use = interesting(tree.node.get('kind') as string, text);
    if (use) items.push(slicedItem(text, position, tree, use === 'read'));
  });
  return items;
}

/** One item's text as a Document: the item is its only sequence entry, a mapping with a kind. */
function parseItem(text: string, position: number): { doc: Document; node: YAMLMap } {
  const doc = parseDocument(text, PARSE);
  if (doc.errors.length) throw new InputError(`items[${position}] is not valid YAML: ${yamlProblem(doc.errors[0])}`);
  const seq = doc.contents;
  if (!isSeq(seq) || seq.items.length !== 1 || !isMap(seq.items[0])) {
    throw new InputError(`items[${position}] is not a mapping: every item must be a Kubernetes resource`);
  }
  const node = seq.items[0] as YAMLMap;
  if (typeof node.get('kind') !== 'string') throw noKind(position);
  return { doc, node };
}

/**
 * An item parsed alone. Its Document is most of the memory of a large run: one only read is
 * kept as plain values instead, and any is parsed again from its text if its nodes are asked for.
 */
function slicedItem(text: string, position: number, tree: { doc: Document; node: YAMLMap }, read: boolean): Item {
  let held: typeof tree | undefined = read ? undefined : tree;
  const parsed = () => {
    held ??= parseItem(text, position);
    return held;
  };
  return {
    get node() {
      return parsed().node;
    },
    get doc() {
      return parsed().doc;
    },
    editor: new Editor(text, wideSeqs(text)),
    position,
    ...(read && { value: toJson(tree.node, tree.doc) }),
    release() {
      held = undefined;
    },
  };
}

/** Every byte of the input, with the items' edits spliced in, new items appended, results replaced. */
function encodeBlockList(
  input: string,
  layout: Layout,
  itemsSection: Section,
  slices: { start: number; end: number }[],
  items: Item[],
  { newItems, results, dropped, keepInput }: Output,
): string[] {
  const editors = new Map(items.map((item) => [item.position, item.editor]));
  const added = keepInput ? [] : newItems;
  // Pieces: testing the end of a growing string would copy it whole each time.
  const out = [input.slice(0, itemsSection.start)];
  const newLine = () => {
    let n = out.length - 1;
    while (n >= 0 && out[n] === '') n--;
    if (n < 0 || !out[n].endsWith('\n')) out.push('\n');
  };
  const itemsLine = input.slice(itemsSection.start, slices.length ? slices[0].start : itemsSection.end);
  // New items replace an empty `items: []`.
  const eol = itemsLine.indexOf('\n');
  out.push(layout.emptyFlowItems && added.length ? `items:${eol === -1 ? '\n' : itemsLine.slice(eol)}` : itemsLine);
  slices.forEach((s, position) => {
    if (keepInput) out.push(input.slice(s.start, s.end));
    else if (!dropped.has(position)) out.push(editors.get(position)?.apply() ?? input.slice(s.start, s.end));
  });
  if (added.length) {
    newLine();
    for (const v of added) out.push(blockItem(v, 0, false));
  }
  // Results describe one run: earlier ones are replaced, so a second run changes nothing.
  const rest = layout.sections.filter((s) => s.start >= itemsSection.end && s.key !== 'results');
  for (const s of rest) out.push(input.slice(s.start, s.end));
  if (results.length) {
    newLine();
    out.push(`results:\n${plainItems(results)}`);
  }
  return out;
}

/** kpt records each file's sequence style; otherwise follow the item's own first block sequence. */
function wideSeqs(text: string): boolean {
  const annotated = /internal\.config\.kubernetes\.io\/seqindent:[ \t]*["']?(wide|compact)/.exec(text);
  if (annotated) return annotated[1] === 'wide';
  const m = /\n( *)[\w"'.-]+:[ \t]*\r?\n( *)- /.exec(text);
  return !!m && m[2].length > m[1].length;
}

function checkResourceList(root: Record<string, unknown> | null): void {
  if (!root || typeof root !== 'object' || Array.isArray(root))
    throw new InputError('input is not a YAML mapping: expected a ResourceList');
  if (root.kind !== 'ResourceList') {
    const what = root.kind ? `a ${String(root.kind)}` : 'a document without kind';
    throw new InputError(
      `input is ${what}, not a ResourceList: pipe a ResourceList (kpt fn source DIR | ray-tls), or run through kpt ` +
        `or kustomize`,
    );
  }
  if (root.apiVersion !== undefined && !/^config\.kubernetes\.io\/v1(beta1|alpha1)?$/.test(String(root.apiVersion))) {
    throw new InputError(
      `ResourceList apiVersion ${String(root.apiVersion)} is not supported: use config.kubernetes.io/v1`,
    );
  }
}

/** The whole input as one ResourceList document, or why it is not one. */
function parseRoot(input: string): { doc: Document; root: YAMLMap } {
  const doc = parseDocument(input, PARSE);
  if (doc.errors.some((e) => e.code === 'MULTIPLE_DOCS')) {
    throw new InputError(
      'input holds several YAML documents: expected one ResourceList. For a stream of manifests use `kpt fn source ' +
        'DIR | ray-tls`, or the legacy plugin form `ray-tls CONFIG_FILE < stream.yaml`',
    );
  }
  if (doc.errors.length) throw new InputError(`input is not valid YAML: ${yamlProblem(doc.errors[0])}`);
  const root = doc.contents;
  if (!isMap(root)) throw new InputError('input is not a YAML mapping: expected a ResourceList');
  checkResourceList({
    kind: toJson(root.get('kind', true) as Node, doc),
    apiVersion: toJson(root.get('apiVersion', true) as Node, doc),
  });
  return { doc, root };
}

/** The fallback: one Document for the whole input, spliced into the source the same way. */
function parseWholeList(input: string, select: Select): Decoded {
  const { doc, root } = parseRoot(input);
  const editor = new Editor(input, wideSeqs(input));
  const itemsNode = root.get('items', true) as Node | undefined;
  if (itemsNode !== undefined && !isSeq(itemsNode) && toJson(itemsNode, doc) !== null)
    throw new InputError('ResourceList items must be a list');
  const functionConfig = toJson(root.get('functionConfig', true) as Node | undefined, doc);
  const interesting = select(functionConfig);
  const items: Item[] = [];
  const all = isSeq(itemsNode) ? itemsNode.items : [];
  all.forEach((node, position) => {
    if (!isMap(node))
      throw new InputError(`items[${position}] is not a mapping: every item must be a Kubernetes resource`);
    // As on the fast path, only the kinds the function reads are its business.
    const kind = node.get('kind');
    if (typeof kind !== 'string') throw noKind(position);
    if (interesting(kind, input.slice(node.range![0], node.range![2]))) items.push({ node, doc, editor, position });
  });
  return {
    items,
    functionConfig,
    itemTexts: () => all.map((n) => input.slice((n as Node).range![0], (n as Node).range![2])),
    ...piecewise(wholeListEncoder(input, editor, root, itemsNode)),
  };
}

/** Writes the output of a whole-document list: the item edits, dropped and new items, the results. */
function wholeListEncoder(input: string, editor: Editor, root: YAMLMap, itemsNode: Node | undefined) {
  const resultsNode = root.get('results', true) as Node | undefined;
  return ({ newItems, results, dropped, keepInput }: Output): string[] => {
    if (keepInput) {
      // Discard the item edits: only the results are added.
      const plain = new Editor(input, editor.wideSeqs);
      addResults(plain, root, resultsNode, results);
      return [plain.apply()];
    }
    for (const position of dropped) {
      const node = (itemsNode as YAMLSeq).items[position] as Node;
      editor.remove(node, !!(itemsNode as YAMLSeq).flow);
    }
    if (newItems.length) {
      if (isSeq(itemsNode)) editor.appendItems(itemsNode as YAMLSeq, newItems);
      else if (itemsNode) editor.replace(itemsNode, newItems, !!root.flow);
      else editor.addPair(root, 'items', newItems);
    }
    addResults(editor, root, resultsNode, results);
    return [editor.apply()];
  };
}

function addResults(editor: Editor, root: YAMLMap, resultsNode: Node | undefined, results: Json[]): void {
  if (resultsNode)
    editor.replace(resultsNode, results, !!root.flow || (isSeq(resultsNode) && !!(resultsNode as YAMLSeq).flow));
  else if (results.length) editor.addPair(root, 'results', results);
}

/**
 * The legacy kustomize exec-plugin protocol (and Helm's post-renderers): a multi-document YAML
 * stream in, the same stream out (each document is one item; their ids must survive). New
 * documents get `newAnnotations` (Helm 4 reads their source file's name from one).
 */
export function decodeStream(
  input: string,
  interesting: Interesting,
  newAnnotations?: Record<string, string>,
): Decoded {
  const docs = streamDocuments(input);
  const items: Item[] = [];
  const editors = new Map<number, Editor>();
  docs.forEach((d, position) => {
    const text = input.slice(d.start, d.end);
    const kind = kindOf(text, 0);
    if (!kind || !interesting(kind, text)) return;
    const doc = parseDocument(text, PARSE);
    if (doc.errors.length)
      throw new InputError(`document ${position + 1} of the stream is not valid YAML: ${yamlProblem(doc.errors[0])}`);
    if (!isMap(doc.contents)) return;
    const editor = new Editor(text, wideSeqs(text));
    editors.set(position, editor);
    items.push({ node: doc.contents, doc, editor, position });
  });
  return {
    items,
    functionConfig: undefined,
    itemTexts: () => docs.map((d) => input.slice(d.start, d.end)),
    ...piecewise(({ newItems, dropped, keepInput }) => {
      let out = '';
      docs.forEach((d, position) => {
        if (keepInput) out += input.slice(d.start, d.end);
        else if (!dropped.has(position)) out += editors.get(position)?.apply() ?? input.slice(d.start, d.end);
      });
      if (!keepInput)
        for (const v of newItems)
          out += `${out && !out.endsWith('\n') ? '\n' : ''}---\n${blockDocument(annotate(v, newAnnotations), false)}`;
      return [out];
    }),
  };
}

/** The documents of a stream: from each `---` line to the next. */
function streamDocuments(input: string): { start: number; end: number }[] {
  const docs: { start: number; end: number }[] = [];
  let start = 0;
  for (const at of lineStarts(input)) {
    if (/^---[ \t]*(#.*)?\r?$/.test(input.slice(at, input.indexOf('\n', at) >>> 0))) {
      if (at > start) docs.push({ start, end: at });
      start = at;
    }
  }
  if (start < input.length) docs.push({ start, end: input.length });
  return docs;
}

function annotate(value: Json, annotations: Record<string, string> | undefined): Json {
  if (!annotations || !isJsonMap(value) || !isJsonMap(value.metadata)) return value;
  const own = isJsonMap(value.metadata.annotations) ? value.metadata.annotations : {};
  return { ...value, metadata: { ...value.metadata, annotations: { ...own, ...annotations } } };
}

/** Where kpt keeps each item (its path and index annotations), read from the item texts without parsing them. */
export function kptFiles(texts: string[]): { kpt: boolean; maxIndex: (path: string) => number } {
  // Block, flow or JSON style: `path: x`, `{...path: x, ...}`, `"...path": "x"`.
  const PATH = /["']?(?:internal\.)?config\.kubernetes\.io\/path["']?[ \t]*:[ \t]*["']?([^"',}\s#]+)/;
  const INDEX = /["']?(?:internal\.)?config\.kubernetes\.io\/index["']?[ \t]*:[ \t]*["']?(\d+)/;
  const placed = texts.filter((t) => t.includes('config.kubernetes.io/path'));
  return {
    kpt: placed.length > 0,
    maxIndex: (path) =>
      Math.max(-1, ...placed.filter((t) => PATH.exec(t)?.[1] === path).map((t) => Number(INDEX.exec(t)?.[1] ?? 0))),
  };
}
