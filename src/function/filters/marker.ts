// The marker annotation: a pod template ray-tls rendered says so, and in which mode and role;
// a later run may then update its entries, and refuses to render it in another mode.
import type { NodeEdit } from '../../tls/modes/mode.js';
import { MARKER_ANNOTATION } from '../../tls/pod.js';
import { mapAt, upsertValue } from '../../yaml/upsert.js';
import type { Plan } from '../plan.js';
import type { PodFilter } from './edits.js';

/** What the marker says of a pod rendered now. */
export const renderedAs = (plan: Plan, role: string): string => `${plan.mode.name}/${role}`;

/** Why the pod cannot be rendered now (it was rendered in another mode), if it cannot. */
export function markerConflict(marker: string | undefined, rendered: string): string | undefined {
  if (marker === undefined || marker === rendered) return undefined;
  return `this pod was rendered by ray-tls as ${marker}; render from the manifests without TLS to change the mode`;
}

export const marker: PodFilter = (edits, pod, plan) => {
  const value = renderedAs(plan, pod.role);
  const mark = ({ target: t, template }: NodeEdit) => {
    // A pod with conflicts gets no edit at all (run.ts): nor the marker.
    if (t.conflicts.length) return;
    const metadata = mapAt(t, template, 'metadata', { annotations: { [MARKER_ANNOTATION]: value } });
    if (!metadata) return;
    const annotations = mapAt(t, metadata, 'annotations', { [MARKER_ANNOTATION]: value });
    if (!annotations) return;
    upsertValue(t, annotations, MARKER_ANNOTATION, value);
  };
  return { ...edits, after: [...edits.after, mark] };
};
