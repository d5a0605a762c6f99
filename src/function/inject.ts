// Injects TLS into one Ray pod template through the splice editor: opens the template, runs
// the pod-edit filters (filters/index.ts) in order, and writes the edits they planned, one
// upsert per list.
import { isMap, isSeq, type Node, type YAMLMap, type YAMLSeq } from 'yaml';
import type { Item } from '../krm/resourceList.js';
import { fieldPath, groupPath } from '../ray/kinds.js';
import type { PodFacts } from '../tls/facts.js';
import type { NodeEdit } from '../tls/modes/mode.js';
import { MARKER_ANNOTATION, OWN_CONTAINERS } from '../tls/pod.js';
import type { Json } from '../yaml/json.js';
import { type Conflict, removeNamed, type Target, upsertList } from '../yaml/upsert.js';
import type { PodEdits } from './filters/edits.js';
import { NO_EDITS } from './filters/edits.js';
import { FILTERS } from './filters/index.js';
import { markerConflict, renderedAs } from './filters/marker.js';
import type { Plan } from './plan.js';

/** Applies the pod's TLS setup through the splice editor; returns the conflicts found. */
export function inject(p: PodFacts<Item>, plan: Plan): Conflict[] {
  const opened = openTemplate(p, plan);
  if ('conflicts' in opened) return opened.conflicts;
  const edits = FILTERS.reduce((planned, filter) => filter(planned, p, plan), NO_EDITS);
  writeContainers(opened, edits);
  writeVolumes(opened, edits, plan.pods.initImage);
  for (const after of edits.after) after(opened);
  // Any conflict fails the run, and then no edit is written (see run.ts).
  return opened.target.conflicts;
}

/** The pod template to edit, or why it cannot be: rendered in another mode, no spec, no containers. */
function openTemplate(p: PodFacts<Item>, plan: Plan): NodeEdit | { conflicts: Conflict[] } {
  const node = p.source.node;
  const template = (p.ref.path.length ? node.getIn(p.ref.path, true) : node) as YAMLMap;
  const spec = template.get('spec', true) as Node | undefined;
  const base = fieldPath(p.ref.path);
  const at = (rest: string) => (base ? `${base}.${rest}` : rest);
  const marker = p.pod.annotations[MARKER_ANNOTATION];
  const rendered = renderedAs(plan, p.role);
  const conflict = (field: string, current: Json | undefined, proposed: Json, message: string) => ({
    conflicts: [{ field: at(field), current, proposed, message }],
  });
  const otherMode = markerConflict(marker, rendered);
  if (otherMode) return conflict(`metadata.annotations.${MARKER_ANNOTATION}`, marker, rendered, otherMode);
  if (!isMap(spec)) return conflict('spec', undefined, {}, 'the pod template has no spec');
  const containers = spec.get('containers', true);
  if (!isSeq(containers) || !containers.items.every(isMap)) {
    return conflict('spec.containers', undefined, [], 'the pod template has no containers list');
  }
  const target: Target = { editor: p.source.editor, doc: p.source.doc, owned: marker !== undefined, conflicts: [] };
  return {
    target,
    pod: p,
    template,
    spec,
    ...(p.kubeRayGroup && { group: node.getIn(groupPath(p.ref), true) as YAMLMap }),
    at,
    addInitContainer: initContainerAdder(target, p, spec, at),
  };
}

/** Adds one of ray-tls's init containers first, on `initImage` or the Ray container's image. */
function initContainerAdder(target: Target, p: PodFacts, spec: YAMLMap, at: (rest: string) => string) {
  const ray = p.pod.containers[p.rayContainer];
  return (what: string, make: (image: string, ray: Record<string, Json>) => Json, initImage?: string): void => {
    const image = initImage ?? (typeof ray?.image === 'string' ? ray.image : undefined);
    if (!image) {
      const message = `no image to run the ${what} init container; set initImage in the config`;
      target.conflicts.push({
        field: at('spec.containers[0].image'),
        current: undefined,
        proposed: 'an image',
        message,
      });
      return;
    }
    const entry = [{ value: make(image, ray ?? {}), keys: ['name'], first: true }];
    upsertList(target, spec, 'initContainers', entry, at('spec.initContainers'));
  };
}

/**
 * The containers that talk to Ray (facts rayContainers): the Ray env (and a node's own, from its
 * mode) and the read-only mounts. The others get nothing; on a pod rendered before, what an
 * earlier release gave them goes, and so does stale env everywhere.
 */
function writeContainers(edit: NodeEdit, edits: PodEdits): void {
  const { target: t, spec, at, pod } = edit;
  const mounts = edits.mounts.map((value) => ({ value, keys: ['name', 'mountPath'] }));
  const names = (list: Json[]) => list.map((e) => String((e as { name: string }).name));
  for (const listKey of ['initContainers', 'containers'] as const) {
    const list = spec.get(listKey, true);
    if (!isSeq(list)) continue;
    (list as YAMLSeq).items.forEach((c, i) => {
      if (!isMap(c) || OWN_CONTAINERS.has(String(c.get('name')))) return;
      const isRay = pod.rayContainers.ray.has(String(c.get('name')));
      if (t.owned) {
        removeNamed(t, c, 'env', [...edits.stale.env, ...(isRay ? [] : names(edits.env))]);
        if (!isRay) removeNamed(t, c, 'volumeMounts', names(edits.mounts));
      }
      if (!isRay) return;
      const field = at(`spec.${listKey}[${i}]`);
      const own = listKey === 'containers' ? edits.containerEnv.flatMap((add) => add(edit, c, i, field)) : [];
      const env = [...edits.env, ...own].map((value) => ({ value, keys: ['name'] }));
      upsertList(t, c, 'env', env, `${field}.env`);
      upsertList(t, c, 'volumeMounts', mounts, `${field}.volumeMounts`);
    });
  }
}

/** The volumes; on a pod rendered before, what this render no longer wants; the init containers. */
function writeVolumes(edit: NodeEdit, edits: PodEdits, initImage: string | undefined): void {
  const { target: t, spec, at } = edit;
  const volumes = edits.volumes.map((value) => ({ value, keys: ['name'] }));
  upsertList(t, spec, 'volumes', volumes, at('spec.volumes'));
  if (t.owned) {
    removeNamed(t, spec, 'volumes', edits.stale.volumes);
    removeNamed(t, spec, 'initContainers', edits.stale.initContainers);
  }
  for (const c of edits.initContainers) edit.addInitContainer(c.what, c.make, initImage);
}
