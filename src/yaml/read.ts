// Reading values out of parsed nodes. Values read here are never written back
// (writing toJS output would change 0644, `on` and dates); edits go through Editor.
import type { Document, Node } from 'yaml';
import { InputError } from './errors.js';
import type { Json } from './json.js';

/** Aliases expand at most this often per value: a billion-laughs input fails fast. */
const MAX_ALIAS_COUNT = 100;

export function toJson(node: Node | undefined | null, doc: Document): Json | undefined {
  if (node === undefined || node === null) return undefined;
  try {
    return node.toJS(doc, { maxAliasCount: MAX_ALIAS_COUNT }) as Json;
  } catch (e) {
    // Alias bombs and unresolved aliases: the input is unusable, not our bug.
    if (e instanceof ReferenceError) throw new InputError(`cannot read the input: ${e.message}`);
    throw e;
  }
}
