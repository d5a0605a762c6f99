// What the function itself would emit for each Ray pod under the same config: the validator's
// reference for ray-tls's own init containers and volumes. It runs the transformer on a copy
// of the input from which those containers are taken out and the opt-outs too, every pod
// marked as rendered (so the transformer rewrites any entry of its own that differs), in the
// mode the pod's marker names. One source of truth: no second copy of the init script.
import { parse, stringify } from 'yaml';
import type { Resource } from '../krm/resource.js';
import { type Decoded, decodeResourceList } from '../krm/resourceList.js';
import { type PodTemplateRef, podTemplates } from '../ray/kinds.js';
import { findRayPods, ROLE_ANNOTATION, SKIP_ANNOTATION } from '../ray/pods.js';
import { modeNamed } from '../tls/modes/index.js';
import { MARKER_ANNOTATION, OWN_CONTAINERS } from '../tls/pod.js';
import { deepEqual, getIn, isMap, type Json, type JsonMap, mapsOf } from '../yaml/json.js';
import { renderedAs } from './filters/marker.js';
import type { Plan } from './plan.js';
import { transform } from './transform.js';

/** The pod template ray-tls would render, for the resource at `index` and its template `ref`. */
export type Expected = (index: number, ref: PodTemplateRef) => JsonMap | undefined;

/** The mode a pod template was rendered in (its marker), else the config's. */
export function renderedMode(template: Json | undefined, plan: Plan): string {
  const marker = getIn(template, ['metadata', 'annotations', MARKER_ANNOTATION]);
  const mode = typeof marker === 'string' ? marker.split('/')[0] : undefined;
  return mode !== undefined && modeNamed(mode) ? mode : plan.mode.name;
}

export function expectedTemplates(resources: Resource[], plan: Plan): Expected {
  const modes = new Set([plan.mode.name]);
  resources.forEach((r) => {
    for (const ref of podTemplates(r)) modes.add(renderedMode(getIn(r as unknown as Json, ref.path), plan));
  });
  const rendered = new Map([...modes].map((mode) => [mode, renderIn(resources, { ...plan, mode: modeNamed(mode)! })]));
  return (index, ref) => {
    const template = getIn(resources[index] as unknown as Json, ref.path);
    const out = getIn(rendered.get(renderedMode(template, plan))?.get(index), ref.path);
    return isMap(out) ? out : undefined;
  };
}

/** The Ray pod carriers as the transformer renders them in `plan`'s mode (absent where it cannot). */
function renderIn(resources: Resource[], plan: Plan): Map<number, Json> {
  // Only what a pod's rendering reads: the pod carriers, and the Services whose names its certificate carries.
  const kept = resources.flatMap((r, index) =>
    podTemplates(r).length || r.kind === 'Service'
      ? [{ index, copy: withoutOwnParts(structuredClone(r) as unknown as JsonMap) }]
      : [],
  );
  const { pods } = findRayPods(
    kept.map(({ copy }, i) => ({ resource: copy as unknown as Resource, source: i })),
    plan.clientSelector,
  );
  for (const p of pods) {
    const metadata = ensureMap(getIn(kept[p.source].copy, p.ref.path) as JsonMap, 'metadata');
    ensureMap(metadata, 'annotations')[MARKER_ANNOTATION] = renderedAs(plan, p.role);
  }
  const items = kept.map((k) => k.copy);
  try {
    const list = stringify({ apiVersion: 'config.kubernetes.io/v1', kind: 'ResourceList', items }, LITERAL);
    const decoded = decodeResourceList(list, () => () => true);
    transform(decoded.items, plan);
    const rendered = readBack(decoded, new Set(pods.map((p) => p.source)));
    return new Map([...rendered].map(([position, r]) => [kept[position].index, r]));
  } catch {
    return new Map(); // input the transformer cannot take: no expectations, so nothing counts as ray-tls's own
  }
}

/**
 * The edited items at `positions`. Items at column 0 are parsed each alone, with its own editor, and read back
 * alone; a list the decoder had to parse whole (one editor) is read back whole.
 */
function readBack(decoded: Decoded, positions: Set<number>): Map<number, Json> {
  const items = decoded.items.filter((item) => positions.has(item.position));
  const alone = new Set(decoded.items.map((item) => item.editor)).size === decoded.items.length;
  if (alone) return new Map(items.map((item) => [item.position, (parse(item.editor.apply()) as Json[])[0]]));
  const out = decoded.encode({ newItems: [], dropped: new Set(), results: [], keepInput: false });
  const all = (parse(out) as { items: Json[] }).items;
  return new Map(items.map((item) => [item.position, all[item.position]]));
}

const LITERAL = { aliasDuplicateObjects: false, indentSeq: false };

/** A copy without opt-outs and without the init containers ray-tls adds (so they are added anew). */
function withoutOwnParts(r: JsonMap): JsonMap {
  const annotations = getIn(r, ['metadata', 'annotations']);
  if (isMap(annotations)) {
    delete annotations[SKIP_ANNOTATION];
    if (annotations[ROLE_ANNOTATION] === 'none') delete annotations[ROLE_ANNOTATION];
  }
  for (const ref of podTemplates(r as unknown as Resource)) {
    const template = getIn(r, ref.path);
    const podAnnotations = getIn(template, ['metadata', 'annotations']);
    if (isMap(podAnnotations) && podAnnotations[ROLE_ANNOTATION] === 'none') delete podAnnotations[ROLE_ANNOTATION];
    const spec = getIn(template, ['spec']);
    if (isMap(spec) && Array.isArray(spec.initContainers))
      spec.initContainers = spec.initContainers.filter((c) => !(isMap(c) && OWN_CONTAINERS.has(String(c.name))));
  }
  return r;
}

function ensureMap(parent: JsonMap, key: string): JsonMap {
  const v = parent[key];
  if (isMap(v)) return v;
  parent[key] = {};
  return parent[key] as JsonMap;
}

/** The own-named init containers of a pod that are exactly what ray-tls emits for it. */
export function ownContainers(initContainers: JsonMap[], expected: JsonMap | undefined): Set<JsonMap> {
  const want = mapsOf(getIn(expected, ['spec', 'initContainers']));
  return new Set(
    initContainers.filter(
      (c) => OWN_CONTAINERS.has(String(c.name)) && want.some((w) => w.name === c.name && deepEqual(w, c)),
    ),
  );
}
