// The cert-manager resources ray-tls owns: emitted when new, rewritten in place
// when the config changed, removed when no Ray pod needs them; under kpt new
// ones go to their own file.

import type { Resource } from '../krm/resource.js';
import type { Item } from '../krm/resourceList.js';
import { about, type Result } from '../krm/results.js';
import { MANAGED_BY } from '../tls/certificates.js';
import { deepEqual, type Json } from '../yaml/json.js';

const MANAGED_KINDS = new Set(['Issuer', 'Certificate']);
const keyOf = (r: { kind: string; metadata: { name: string; namespace?: string } }) =>
  `${r.kind}/${r.metadata.namespace ?? ''}/${r.metadata.name}`;

/** Where new items go under kpt (undefined elsewhere): the file, and the highest index already used there. */
export interface Placement {
  path: string;
  maxIndex: number;
}

/** Emits wanted resources: unchanged ones stay, changed ones are rewritten in place, stale ones go. */
export function reconcileManaged(
  resources: { item: Item; resource: Resource | undefined }[],
  wanted: Json[],
  results: Result[],
  placement: Placement | undefined,
): { newItems: Json[]; dropped: Set<number> } {
  const existing = managedResources(resources);
  const newItems: Json[] = [];
  const placeNew = kptPlacement(placement);
  for (const w of wanted) {
    const key = keyOf(w as unknown as Resource);
    const have = existing.get(key);
    existing.delete(key);
    if (!have) {
      newItems.push(placeNew(w));
      continue;
    }
    if (rewrite(have, w)) results.push(about(have.resource, 'info', 'updated to match the config'));
  }
  const dropped = new Set<number>();
  for (const { item, resource } of existing.values()) {
    dropped.add(item.position);
    results.push(about(resource, 'info', 'removed: ray-tls emitted it earlier and no Ray pod needs it now'));
  }
  return { newItems, dropped };
}

/** The cert-manager resources of the input that ray-tls emitted, by kind, namespace and name. */
function managedResources(resources: { item: Item; resource: Resource | undefined }[]) {
  const existing = new Map<string, { item: Item; resource: Resource }>();
  for (const { item, resource } of resources) {
    if (
      resource &&
      MANAGED_KINDS.has(resource.kind) &&
      resource.apiVersion.startsWith('cert-manager.io/') &&
      resource.metadata.labels?.['app.kubernetes.io/managed-by'] === MANAGED_BY['app.kubernetes.io/managed-by']
    ) {
      existing.set(keyOf(resource), { item, resource });
    }
  }
  return existing;
}

/** Rewrites an emitted resource in place as now wanted; false when it already is. */
function rewrite(have: { item: Item; resource: Resource }, w: Json): boolean {
  const { annotations, ...haveMeta } = have.resource.metadata;
  const comparable = { ...have.resource, metadata: haveMeta } as unknown as Json;
  if (deepEqual(comparable, w)) return false;
  // Keep the item's own annotations (kpt's path and index), replace the rest.
  const merged = {
    ...(w as Record<string, Json>),
    metadata: {
      ...((w as Record<string, Json>).metadata as Record<string, Json>),
      ...(annotations && { annotations }),
    },
  };
  have.item.editor.replace(have.item.node, merged, false);
  return true;
}

/** Under kpt new items go to their own file, after any item already there; elsewhere they get no annotations. */
function kptPlacement(placement: Placement | undefined): (item: Json) => Json {
  if (!placement) return (item) => item;
  let next = placement.maxIndex + 1;
  return (item) => {
    const index = String(next++);
    const o = item as Record<string, Json>;
    const metadata = o.metadata as Record<string, Json>;
    const placed = {
      'config.kubernetes.io/path': placement.path,
      'config.kubernetes.io/index': index,
      'internal.config.kubernetes.io/path': placement.path,
      'internal.config.kubernetes.io/index': index,
    };
    return {
      ...o,
      metadata: { ...metadata, annotations: { ...((metadata.annotations as Record<string, Json>) ?? {}), ...placed } },
    };
  };
}
