// Reading values out of parsed nodes. Values read here are never written back
// (writing toJS output would change 0644, `on` and dates); edits go through Editor.
import type { Document, Node } from 'yaml';
import type { Json } from './yamlEdit.js';

/** Aliases expand at most this often per value: a billion-laughs input fails fast. */
const MAX_ALIAS_COUNT = 100;

export function toJson(node: Node | undefined | null, doc: Document): Json | undefined {
  if (node === undefined || node === null) return undefined;
  return node.toJS(doc, { maxAliasCount: MAX_ALIAS_COUNT }) as Json;
}
