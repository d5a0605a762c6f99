// Idempotent upserts of named list entries (env, volumeMounts, volumes,
// initContainers) through the splice editor. An entry that differs from ours
// is ours to update only when the pod carries our marker; otherwise it is a
// conflict the user must resolve, never a silent overwrite.
import { type Document, isMap, isSeq, type Node, type YAMLMap, type YAMLSeq } from 'yaml';
import type { Editor } from './edit.js';
import { deepEqual, type Json } from './json.js';
import { toJson } from './read.js';

export interface Conflict {
  field: string;
  current: Json | undefined;
  proposed: Json;
  message: string;
  /** How to resolve it, when the message does not already say. */
  fix?: string;
}

export interface Target {
  editor: Editor;
  doc: Document;
  /** True when the pod was rendered by ray-tls before: differing entries of ours get updated. */
  owned: boolean;
  conflicts: Conflict[];
}

interface Entry {
  value: Json;
  /** Fields that identify an existing entry as "the same one" (a mount by name, or by path). */
  keys: string[];
  /** Insert first (our init container must run before any other). */
  first?: boolean;
}

/** Upserts `entries` into the list `parent[key]`; `field` names parent[key] for messages. */
export function upsertList(t: Target, parent: YAMLMap, key: string, entries: Entry[], field: string): void {
  const listNode = parent.get(key, true) as Node | undefined;
  if (listNode !== undefined && !isSeq(listNode) && toJson(listNode, t.doc) !== null) {
    t.conflicts.push({
      field,
      current: toJson(listNode, t.doc),
      proposed: entries.map((e) => e.value),
      message: `${key} must be a list`,
    });
    return;
  }
  const { prepend, append } = updateEntries(t, listNode as YAMLSeq | undefined, entries, field);
  if (prepend === undefined && append.length === 0) return;
  if (isSeq(listNode)) {
    if (prepend !== undefined) t.editor.prependItem(listNode as YAMLSeq, prepend);
    t.editor.appendItems(listNode as YAMLSeq, append);
  } else if (listNode !== undefined) {
    t.editor.fillEmpty(parent, key, [...(prepend !== undefined ? [prepend] : []), ...append]);
  } else {
    t.editor.addPair(parent, key, [...(prepend !== undefined ? [prepend] : []), ...append]);
  }
}

/**
 * Updates the entries the list already has (ours on a rendered pod; else a differing one is a
 * conflict) and returns those it lacks: the one to put first, and those to append.
 */
function updateEntries(
  t: Target,
  listNode: YAMLSeq | undefined,
  entries: Entry[],
  field: string,
): { prepend: Json | undefined; append: Json[] } {
  const existing = isSeq(listNode) ? listNode.items : [];
  const values = existing.map((n) => toJson(n as Node, t.doc));
  const append: Json[] = [];
  let prepend: Json | undefined;
  for (const entry of entries) {
    const want = entry.value as Record<string, Json>;
    const index = values.findIndex(
      (v) => isObj(v) && entry.keys.some((k) => want[k] !== undefined && v[k] === want[k]),
    );
    if (index === -1) {
      if (entry.first) prepend = entry.value;
      else append.push(entry.value);
      continue;
    }
    const have = values[index];
    if (deepEqual(have, entry.value)) continue;
    if (t.owned) {
      t.editor.replace(existing[index] as Node, entry.value, !!listNode?.flow);
      continue;
    }
    const same = entry.keys
      .filter((k) => isObj(have) && have[k] === want[k])
      .map((k) => `${k} ${JSON.stringify(want[k])}`)
      .join(' and ');
    const message = `an entry with ${same} already exists with other settings`;
    t.conflicts.push({ field: `${field}[${index}]`, current: have, proposed: entry.value, message });
  }
  return { prepend, append };
}

const isObj = (v: Json | undefined): v is Record<string, Json> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Removes the entries of the list `parent[key]` whose `name` is one of `names` (ours, no longer wanted). */
export function removeNamed(t: Target, parent: YAMLMap, key: string, names: string[]): void {
  const list = parent.get(key, true) as Node | undefined;
  if (!isSeq(list)) return;
  for (const item of (list as YAMLSeq).items) {
    if (isMap(item) && names.includes(String(item.get('name'))))
      t.editor.remove(item as Node, !!(list as YAMLSeq).flow);
  }
}

/** Sets `parent[key] = value` for a scalar map entry (our own annotation). */
export function upsertValue(t: Target, parent: YAMLMap, key: string, value: Json): void {
  const node = parent.get(key, true) as Node | undefined;
  if (node === undefined) {
    t.editor.addPair(parent, key, value);
    return;
  }
  if (deepEqual(toJson(node, t.doc), value)) return;
  t.editor.replace(node, value, parent.flow ?? false);
}

/** The map at parent[key], creating it with `value` when absent; undefined when created. */
export function mapAt(t: Target, parent: YAMLMap, key: string, whenAbsent: Record<string, Json>): YAMLMap | undefined {
  const node = parent.get(key, true) as Node | undefined;
  if (isMap(node)) return node;
  if (node === undefined || toJson(node, t.doc) === null) {
    if (node === undefined) t.editor.addPair(parent, key, whenAbsent);
    else t.editor.fillEmpty(parent, key, whenAbsent);
    return undefined;
  }
  return undefined;
}
