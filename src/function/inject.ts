// Injects TLS into one Ray pod template through the splice editor: env and a read-only
// mount in every container, the volumes, and the mode's own edits (modes/*.ts).
import { isMap, isSeq, type Node, type YAMLMap, type YAMLSeq } from 'yaml';
import type { Item } from '../krm/resourceList.js';
import { autoscalerOptionsPath, fieldPath, groupPath } from '../ray/kinds.js';
import { type RayPod, rayContainerIndex } from '../ray/pods.js';
import { authEnv } from '../tls/auth.js';
import type { CertificateMode } from '../tls/modes/index.js';
import type { NodeEdit } from '../tls/modes/mode.js';
import { MARKER_ANNOTATION, OWN_CONTAINERS, secretMode, secretSource, tlsEnv, tlsMount, VOLUME } from '../tls/pod.js';
import type { PodSettings } from '../tls/settings.js';
import { SECRET_VOLUME, TRUST_CONTAINER, TRUST_VOLUME, trustContainer, withTrust } from '../tls/trust.js';
import { getIn, type Json } from '../yaml/json.js';
import { type Conflict, mapAt, removeNamed, type Target, upsertList, upsertValue } from '../yaml/upsert.js';

/** What one pod gets: the mode (nodes), the client Secret (clients), the Services its certificate names. */
export interface PodChange {
  mode: CertificateMode;
  settings: PodSettings;
  clientSecret: string;
  services: string[];
  /** Ray token authentication for this pod (off where KubeRay's authOptions does it). */
  auth: boolean;
}

/** Applies the pod's TLS setup through the splice editor; returns the conflicts found. */
export function inject(p: RayPod<Item>, change: PodChange): Conflict[] {
  const { mode, settings } = change;
  const node = p.source.node;
  const template = (p.ref.path.length ? node.getIn(p.ref.path, true) : node) as YAMLMap;
  const spec = template.get('spec', true) as Node | undefined;
  const base = fieldPath(p.ref.path);
  const at = (rest: string) => (base ? `${base}.${rest}` : rest);
  const marker = p.pod.annotations[MARKER_ANNOTATION];
  const rendered = `${mode.name}/${p.role}`;
  const t: Target = { editor: p.source.editor, doc: p.source.doc, owned: marker !== undefined, conflicts: [] };
  if (marker !== undefined && marker !== rendered) {
    const message =
      `this pod was rendered by ray-tls as ${marker}; render from the manifests without TLS to change ` + `the mode`;
    return [{ field: at(`metadata.annotations.${MARKER_ANNOTATION}`), current: marker, proposed: rendered, message }];
  }
  if (!isMap(spec))
    return [{ field: at('spec'), current: undefined, proposed: {}, message: 'the pod template has no spec' }];
  const containers = spec.get('containers', true);
  if (!isSeq(containers) || !containers.items.every(isMap)) {
    return [
      {
        field: at('spec.containers'),
        current: undefined,
        proposed: [],
        message: 'the pod template has no containers list',
      },
    ];
  }
  const kubeRayGroup = p.ref.kuberay === 'head' || p.ref.kuberay === 'worker';
  const edit: NodeEdit = {
    target: t,
    pod: p,
    spec,
    ...(kubeRayGroup && { group: node.getIn(groupPath(p.ref), true) as YAMLMap }),
    at,
    services: change.services,
  };

  const processEnv = rayProcessEnv(settings, change.auth);
  for (const listKey of ['initContainers', 'containers'] as const) {
    const list = spec.get(listKey, true);
    if (!isSeq(list)) continue;
    (list as YAMLSeq).items.forEach((c, i) => {
      if (!isMap(c) || OWN_CONTAINERS.has(String(c.get('name')))) return;
      const cField = at(`spec.${listKey}[${i}]`);
      const extra =
        p.role === 'node' && listKey === 'containers' ? (mode.containerEnv?.(edit, c, i, cField, settings) ?? []) : [];
      const env = [...processEnv, ...extra].map((value) => ({ value, keys: ['name'] }));
      upsertList(t, c, 'env', env, `${cField}.env`);
      upsertList(
        t,
        c,
        'volumeMounts',
        [{ value: tlsMount(settings.mountPath), keys: ['name', 'mountPath'] }],
        `${cField}.volumeMounts`,
      );
    });
  }
  const ray = p.pod.containers[rayContainerIndex(p.ref, p.pod)];
  const runAsUser = getIn(ray?.securityContext, ['runAsUser']) ?? p.pod.runAsUser;
  const secrets = secretMode(p.pod.fsGroup !== undefined, typeof runAsUser === 'number' ? runAsUser : undefined);
  const volumes: Json[] =
    p.role === 'client'
      ? [{ name: VOLUME, secret: secretSource(change.clientSecret, secrets) }]
      : mode.nodeVolumes(settings, secrets);
  const withBundle = mode.bundlesTrust && p.role === 'node' ? volumes : withTrust(volumes, settings.trust);
  upsertList(
    t,
    spec,
    'volumes',
    withBundle.map((value) => ({ value, keys: ['name'] })),
    at('spec.volumes'),
  );
  if (t.owned && !settings.trust.length) {
    // A rotation is over: what an earlier render added for the trust bundle goes.
    removeNamed(t, spec, 'volumes', [TRUST_VOLUME, SECRET_VOLUME]);
    removeNamed(t, spec, 'initContainers', [TRUST_CONTAINER]);
  }
  if (withBundle !== volumes) {
    const image = settings.initImage ?? (typeof ray?.image === 'string' ? ray.image : undefined);
    if (image) {
      const init = trustContainer(image, settings.mountPath, {
        imagePullPolicy: ray?.imagePullPolicy,
        securityContext: ray?.securityContext,
      });
      upsertList(t, spec, 'initContainers', [{ value: init, keys: ['name'], first: true }], at('spec.initContainers'));
    } else
      t.conflicts.push({
        field: at('spec.containers[0].image'),
        current: undefined,
        proposed: 'an image',
        message: 'no image to run the trust init container; set initImage in the config',
      });
  }
  if (p.role === 'node') mode.editPod?.(edit, settings);
  injectAutoscaler(t, p, processEnv, settings.mountPath);
  // Any conflict fails the run, and then no edit is written (see run.ts).
  if (t.conflicts.length) return t.conflicts;
  markPod(t, template, rendered);
  return [];
}

/**
 * KubeRay adds the in-tree autoscaler to the head pod at run time, with the env and mounts of
 * autoscalerOptions only; it talks to the GCS too, so it gets the TLS env and the head's mount.
 */
function injectAutoscaler(t: Target, p: RayPod<Item>, env: Json[], mountPath: string): void {
  const path = autoscalerOptionsPath(p.resource, p.ref);
  if (!path) return;
  const parent = p.source.node.getIn(path.slice(0, -1), true) as YAMLMap;
  const whenAbsent = { env, volumeMounts: [tlsMount(mountPath)] };
  const options = mapAt(t, parent, String(path[path.length - 1]), whenAbsent);
  if (!options) return;
  const field = fieldPath(path);
  upsertList(
    t,
    options,
    'env',
    env.map((value) => ({ value, keys: ['name'] })),
    `${field}.env`,
  );
  upsertList(
    t,
    options,
    'volumeMounts',
    [{ value: tlsMount(mountPath), keys: ['name', 'mountPath'] }],
    `${field}.volumeMounts`,
  );
}

/** What every Ray process of the pod reads: TLS, and the auth token when on. */
const rayProcessEnv = (settings: PodSettings, auth: boolean): Json[] => [
  ...tlsEnv(settings.mountPath),
  ...(auth && settings.authToken ? authEnv(settings.authToken) : []),
];

/** Records on the pod template that ray-tls rendered it (so a later run may update its entries). */
function markPod(t: Target, template: YAMLMap, value: string): void {
  const metadata = mapAt(t, template, 'metadata', { annotations: { [MARKER_ANNOTATION]: value } });
  if (!metadata) return;
  const annotations = mapAt(t, metadata, 'annotations', { [MARKER_ANNOTATION]: value });
  if (!annotations) return;
  upsertValue(t, annotations, MARKER_ANNOTATION, value);
}
