// KubeRay adds the in-tree autoscaler to the head pod at run time, with the env and mounts of
// autoscalerOptions only; it talks to the GCS too, so it gets every Ray process's env and mounts.
import type { YAMLMap } from 'yaml';
import { fieldPath } from '../../ray/kinds.js';
import type { NodeEdit } from '../../tls/modes/mode.js';
import { mapAt, upsertList } from '../../yaml/upsert.js';
import type { PodFilter } from './edits.js';

export const autoscaler: PodFilter = (edits, pod) => {
  const path = pod.autoscaler;
  if (!path) return edits;
  const { env, mounts } = edits;
  const write = ({ target: t }: NodeEdit) => {
    const parent = pod.source.node.getIn(path.slice(0, -1), true) as YAMLMap;
    const options = mapAt(t, parent, String(path[path.length - 1]), { env, volumeMounts: mounts });
    if (!options) return;
    const field = fieldPath(path);
    upsertList(
      t,
      options,
      'env',
      env.map((value) => ({ value, keys: ['name'] })),
      `${field}.env`,
    );
    const entries = mounts.map((value) => ({ value, keys: ['name', 'mountPath'] }));
    upsertList(t, options, 'volumeMounts', entries, `${field}.volumeMounts`);
  };
  return { ...edits, after: [...edits.after, write] };
};
