// Splices changes into YAML source text instead of re-serialising documents:
// every byte the function does not change is copied through as it was
// (comments, quoting, key order, indentation, kpt's head comments).
import { isMap, isScalar, isSeq, type Node, stringify, type YAMLMap, type YAMLSeq } from 'yaml';
import type { Json } from './json.js';

interface Edit {
  start: number;
  end: number;
  text: string;
  order: number;
  /** Indentation of inserted block text: at one offset, deeper entries go first (they close inner maps). */
  depth: number;
}

// YAML 1.1 quoting ("on", "0644" stay strings for Kubernetes tools), no folding.
const BLOCK = {
  version: '1.1',
  lineWidth: 0,
  indentSeq: false,
  flowCollectionPadding: false,
  aliasDuplicateObjects: false,
} as const;

/** Serialises a value as block YAML, each line after the first indented by `indent`. */
function block(value: Json, indent: number, wideSeqs: boolean): string {
  const laid = value !== null && typeof value === 'object' ? layout(value, wideSeqs) : undefined;
  const text = laid ?? stringify(value, { ...BLOCK, indentSeq: wideSeqs }).replace(/\n$/, '');
  const pad = ' '.repeat(indent);
  return indent === 0 ? text : text.replace(/\n(?!\n|$)/g, `\n${pad}`);
}

/**
 * The block YAML that `yaml`'s stringify prints for a value, laid out here: the serialiser
 * builds a document for every call, and the function inserts thousands of values into a
 * large list (docs/design.md §6). Only each scalar goes through `yaml` (its quoting and
 * block-literal rules), once per distinct scalar. Undefined for what this layout does not
 * cover (a lone scalar, keys that need quoting, a list directly in a list): the caller asks `yaml`.
 */
function layout(value: Json, wideSeqs: boolean, indent = 0): string | undefined {
  if (value === null || typeof value !== 'object') return scalar(value, indent);
  const pad = ' '.repeat(indent);
  if (Array.isArray(value)) {
    if (!value.length) return '[]';
    let out = '';
    for (const v of value) {
      if (Array.isArray(v) && v.length) return undefined;
      // A map's keys line up after the dash; a block literal's lines sit 2 in from the dash, as under a key.
      const item = layout(v, wideSeqs, v !== null && typeof v === 'object' ? indent + 2 : indent);
      if (item === undefined) return undefined;
      out += `${out ? `\n${pad}` : ''}- ${item}`;
    }
    return out;
  }
  const keys = Object.keys(value);
  if (!keys.length) return '{}';
  let out = '';
  for (const k of keys) {
    if (!PLAIN.test(k) || YAML11_WORDS.test(k)) return undefined;
    const v = value[k];
    const nested = v !== null && typeof v === 'object' && (Array.isArray(v) ? v.length : Object.keys(v).length);
    const at = nested ? (Array.isArray(v) && !wideSeqs ? indent : indent + 2) : indent;
    const text = layout(v, wideSeqs, at);
    if (text === undefined) return undefined;
    out += `${out ? `\n${pad}` : ''}${k}:${nested ? `\n${' '.repeat(at)}` : ' '}${text}`;
  }
  return out;
}

const scalars = new Map<string, string>();

/** A scalar as `yaml` prints it as a map value at column `indent` (a block literal's lines follow it). */
function scalar(value: string | number | boolean | null, indent: number): string {
  const id = `${indent} ${typeof value === 'string' ? `s${value}` : String(value)}`;
  let text = scalars.get(id);
  if (text === undefined) {
    text = stringify({ k: value }, BLOCK).slice(3, -1);
    if (indent && text.includes('\n')) text = text.replace(/\n(?!\n|$)/g, `\n${' '.repeat(indent)}`);
    scalars.set(id, text);
  }
  return text;
}

/** Serialises a value in flow style (for insertion into flow collections and JSON input). */
function flow(value: Json): string {
  return JSON.stringify(value);
}

function columnOf(text: string, offset: number): number {
  return offset - (text.lastIndexOf('\n', offset - 1) + 1);
}

export class Editor {
  private readonly edits: Edit[] = [];
  private readonly crlf: boolean;

  /**
   * @param text the source that the nodes' ranges point into
   * @param wideSeqs whether block sequences are indented under their key (kpt's "wide" style)
   */
  constructor(
    readonly text: string,
    readonly wideSeqs = false,
  ) {
    this.crlf = text.includes('\r\n');
  }

  get changed(): boolean {
    return this.edits.length > 0;
  }

  private push(start: number, end: number, text: string): void {
    // Inserted lines follow the source's line endings.
    if (this.crlf) text = text.replace(/\r?\n/g, '\r\n');
    const depth = /^\r?\n?( *)/.exec(text)![1].length;
    this.edits.push({ start, end, text, order: this.edits.length, depth });
  }

  /**
   * Start of the line after a block node's last content. A block range can run on over
   * trailing comment lines and the next line's indentation, so follow the last entry down.
   */
  private blockEnd(node: Node): { at: number; prefix: string } {
    const end = this.contentEnd(node);
    return end > 0 && this.text[end - 1] !== '\n' ? { at: end, prefix: '\n' } : { at: end, prefix: '' };
  }

  private contentEnd(node: Node): number {
    if ((isMap(node) || isSeq(node)) && !node.flow && node.items.length) {
      const last = node.items[node.items.length - 1];
      const inner = (
        isMap(node) ? ((last as { value?: Node | null }).value ?? (last as { key: Node }).key) : last
      ) as Node | null;
      if (inner?.range && !(isScalar(inner) && inner.value === null && inner.range[0] === inner.range[1]))
        return this.contentEnd(inner);
      if (isMap(node)) return this.contentEnd((last as { key: Node }).key);
    }
    const end = node.range![1];
    if (end > 0 && this.text[end - 1] === '\n') return end; // block scalars end with their newline
    const eol = this.text.indexOf('\n', end);
    return eol === -1 ? this.text.length : eol + 1; // past a comment on the same line
  }

  /** Offset of a flow collection's closing bracket. */
  private closing(node: Node): number {
    const end = node.range![1];
    const close = isSeq(node) ? ']' : '}';
    return this.text.lastIndexOf(close, end - 1);
  }

  /** Adds `key: value` to a map that lacks the key. */
  addPair(map: YAMLMap, key: string, value: Json): void {
    if (map.flow || map.items.length === 0) {
      const at = this.closing(map);
      if (at < 0) throw new Error('cannot locate the end of a flow mapping');
      this.push(at, at, `${map.items.length ? ', ' : ''}${JSON.stringify(key)}: ${flow(value)}`);
      return;
    }
    const first = map.items[0].key as Node;
    const indent = columnOf(this.text, first.range![0]);
    const { at, prefix } = this.blockEnd(map);
    const isBlockColl = value !== null && typeof value === 'object' && Object.keys(value).length > 0;
    const body = isBlockColl
      ? `${key}:${this.blockValue(value, indent)}`
      : block({ [key]: value }, indent, this.wideSeqs);
    this.push(at, at, `${prefix}${' '.repeat(indent)}${body}\n`);
  }

  /** A collection as the block value of a key at `indent`: on the lines below the key. */
  private blockValue(value: Json, indent: number): string {
    if (!Array.isArray(value)) return `\n${' '.repeat(indent + 2)}${block(value, indent + 2, this.wideSeqs)}`;
    const seqIndent = this.wideSeqs ? indent + 2 : indent;
    return `\n${' '.repeat(seqIndent)}${block(value, seqIndent, this.wideSeqs)}`;
  }

  /**
   * Gives a key whose value is empty (`env:`, `metadata: ~`, both null) a value. In a block
   * map a collection goes on the lines below the key, as if the key had been added with it.
   */
  fillEmpty(map: YAMLMap, key: string, value: Json): void {
    const pair = map.items.find((p) => isScalar(p.key) && p.key.value === key);
    const keyNode = pair?.key as Node | undefined;
    const valueNode = pair?.value as Node | null | undefined;
    if (!keyNode?.range || !valueNode?.range) throw new Error(`no empty value at ${key}`);
    const isBlockColl = value !== null && typeof value === 'object' && Object.keys(value).length > 0;
    if (map.flow || !isBlockColl) {
      this.replace(valueNode, value, !!map.flow);
      return;
    }
    const keyStart = keyNode.range[0];
    const eol = this.text.indexOf('\n', valueNode.range[1]);
    const lineEnd = eol === -1 ? this.text.length : this.text[eol - 1] === '\r' ? eol - 1 : eol;
    // Keep the key as written and a comment after it; drop the `~` or `null`.
    const head = (
      this.text.slice(keyStart, valueNode.range[0]) + this.text.slice(valueNode.range[1], lineEnd)
    ).trimEnd();
    this.push(keyStart, lineEnd, `${head}${this.blockValue(value, columnOf(this.text, keyStart))}`);
  }

  /** Appends entries to a sequence. */
  appendItems(seq: YAMLSeq, values: Json[]): void {
    if (values.length === 0) return;
    if (seq.flow || seq.items.length === 0) {
      const at = this.closing(seq);
      if (at < 0) throw new Error('cannot locate the end of a flow sequence');
      this.push(at, at, (seq.items.length ? ', ' : '') + values.map(flow).join(', '));
      return;
    }
    const indent = columnOf(this.text, seq.range![0]);
    const pad = ' '.repeat(indent);
    const { at, prefix } = this.blockEnd(seq);
    const text = values.map((v) => `${pad}- ${block(v, indent + 2, this.wideSeqs)}\n`).join('');
    this.push(at, at, prefix + text);
  }

  /** Inserts an entry before the first one of a sequence. */
  prependItem(seq: YAMLSeq, value: Json): void {
    if (seq.flow || seq.items.length === 0) {
      const open = this.text.indexOf('[', seq.range![0]);
      this.push(open + 1, open + 1, flow(value) + (seq.items.length ? ', ' : ''));
      return;
    }
    const start = seq.range![0];
    const indent = columnOf(this.text, start);
    this.push(start, start, `- ${block(value, indent + 2, this.wideSeqs)}\n${' '.repeat(indent)}`);
  }

  /** Replaces a node (a value or a sequence entry) with a new value of the same place. */
  replace(node: Node, value: Json, inFlow: boolean): void {
    const [start, end] = node.range!;
    if (inFlow || (isMap(node) || isSeq(node) ? node.flow : !isScalar(node))) {
      this.push(start, end, flow(value));
      return;
    }
    if (isScalar(node)) {
      this.push(start, end, value !== null && typeof value === 'object' ? flow(value) : block(value, 0, this.wideSeqs));
      return;
    }
    const indent = columnOf(this.text, start);
    const text = block(value, indent, this.wideSeqs);
    const tail = this.text[end - 1] === '\n' ? '\n' : '';
    this.push(start, end, text + tail);
  }

  /** Removes a sequence entry: its whole lines in block style, the entry and a comma in flow style. */
  remove(node: Node, inFlow: boolean): void {
    const [start, , end] = node.range!;
    if (inFlow) {
      const after = /^\s*,\s*/.exec(this.text.slice(end));
      if (after) this.push(start, end + after[0].length, '');
      else {
        const before = this.text.lastIndexOf(',', start);
        this.push(before >= 0 && !this.text.slice(before + 1, start).trim() ? before : start, end, '');
      }
      return;
    }
    const lineStart = this.text.lastIndexOf('\n', start - 1) + 1;
    this.push(lineStart, end, '');
  }

  /** Inserts raw text at an offset. */
  insert(at: number, text: string): void {
    this.push(at, at, text);
  }

  apply(): string {
    if (!this.edits.length) return this.text;
    // At one offset: deeper text first; at one depth, a sequence's new entries before a map's new keys.
    const entry = (e: Edit) => (/^\r?\n?\s*- /.test(e.text) ? 0 : 1);
    const sorted = [...this.edits].sort(
      (a, b) => a.start - b.start || b.depth - a.depth || entry(a) - entry(b) || a.order - b.order,
    );
    let out = '';
    let pos = 0;
    for (const e of sorted) {
      if (e.start < pos) throw new Error('overlapping YAML edits');
      out += this.text.slice(pos, e.start) + e.text;
      pos = e.end;
    }
    return out + this.text.slice(pos);
  }
}

/** Serialises a new top-level list item (`- apiVersion: ...`) at column `indent`. */
export function blockItem(value: Json, indent: number, wideSeqs: boolean): string {
  return `${' '.repeat(indent)}- ${block(value, indent + 2, wideSeqs)}\n`;
}

/** Serialises a whole document body (legacy exec-plugin streams). */
export function blockDocument(value: Json, wideSeqs: boolean): string {
  return `${block(value, 0, wideSeqs)}\n`;
}

/**
 * Block YAML for plain data whose keys are identifiers, as results are: maps in block
 * style, scalars and lists as JSON (valid YAML flow). Results are written on every run,
 * and the yaml serialiser's first use costs more of the cold start than this.
 */
const PLAIN = /^[A-Za-z][\w./-]*$/;
// What YAML 1.1 reads as a boolean, null or float though it starts with a letter (`E0` is 1.0 there):
// `yaml` quotes these, so the layout and plainBlock must too.
const YAML11_WORDS = /^(y|yes|n|no|true|false|on|off|null|e-?[0-9]+)$/i;

export function plainBlock(value: Json, indent = 0): string {
  if (typeof value === 'string' && PLAIN.test(value) && !YAML11_WORDS.test(value)) return ` ${value}\n`;
  if (value === null || typeof value !== 'object' || Array.isArray(value) || !Object.keys(value).length)
    return ` ${JSON.stringify(value)}\n`;
  const pad = ' '.repeat(indent);
  const key = (k: string) => (PLAIN.test(k) && !YAML11_WORDS.test(k) ? k : JSON.stringify(k));
  return (
    '\n' +
    Object.entries(value)
      .map(([k, v]) => `${pad}${key(k)}:${plainBlock(v, indent + 2)}`)
      .join('')
  );
}

/** A list of plain data maps as block sequence entries at column 0. */
export function plainItems(values: Json[]): string {
  return values.map((v) => `- ${plainBlock(v, 2).slice(3)}`).join('');
}
