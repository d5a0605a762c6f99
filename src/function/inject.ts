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
  const opened = openTemplate(p, change.mode, change.services);
  if ('conflicts' in opened) return opened.conflicts;
  const { edit, template } = opened;
  const { mode, settings } = change;
  const processEnv = rayProcessEnv(settings, change.auth);
  injectContainers(edit, processEnv, change);
  injectVolumes(edit, change);
  if (p.role === 'node') mode.editPod?.(edit, settings);
  injectAutoscaler(edit.target, p, processEnv, settings.mountPath);
  // Any conflict fails the run, and then no edit is written (see run.ts).
  if (edit.target.conflicts.length) return edit.target.conflicts;
  markPod(edit.target, template, `${mode.name}/${p.role}`);
  return [];
}

/** The pod template to edit, or why it cannot be: rendered in another mode, no spec, no containers. */
function openTemplate(
  p: RayPod<Item>,
  mode: CertificateMode,
  services: string[],
): { edit: NodeEdit; template: YAMLMap } | { conflicts: Conflict[] } {
  const node = p.source.node;
  const template = (p.ref.path.length ? node.getIn(p.ref.path, true) : node) as YAMLMap;
  const spec = template.get('spec', true) as Node | undefined;
  const base = fieldPath(p.ref.path);
  const at = (rest: string) => (base ? `${base}.${rest}` : rest);
  const marker = p.pod.annotations[MARKER_ANNOTATION];
  const rendered = `${mode.name}/${p.role}`;
  const conflict = (field: string, current: Json | undefined, proposed: Json, message: string) => ({
    conflicts: [{ field: at(field), current, proposed, message }],
  });
  if (marker !== undefined && marker !== rendered) {
    const message =
      `this pod was rendered by ray-tls as ${marker}; ` + 'render from the manifests without TLS to change the mode';
    return conflict(`metadata.annotations.${MARKER_ANNOTATION}`, marker, rendered, message);
  }
  if (!isMap(spec)) return conflict('spec', undefined, {}, 'the pod template has no spec');
  const containers = spec.get('containers', true);
  if (!isSeq(containers) || !containers.items.every(isMap)) {
    return conflict('spec.containers', undefined, [], 'the pod template has no containers list');
  }
  const target: Target = { editor: p.source.editor, doc: p.source.doc, owned: marker !== undefined, conflicts: [] };
  const kubeRayGroup = p.ref.kuberay === 'head' || p.ref.kuberay === 'worker';
  const ray = p.pod.containers[rayContainerIndex(p.ref, p.pod)];
  const edit: NodeEdit = {
    target,
    pod: p,
    spec,
    ...(kubeRayGroup && { group: node.getIn(groupPath(p.ref), true) as YAMLMap }),
    at,
    services,
    addInitContainer: (what, make, initImage) => {
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
    },
  };
  return { edit, template };
}

/** Every container but ray-tls's own: the Ray env (and the mode's) and the read-only mount. */
function injectContainers(edit: NodeEdit, processEnv: Json[], { mode, settings }: PodChange): void {
  const { target: t, pod: p, spec, at } = edit;
  const mount = [{ value: tlsMount(settings.mountPath), keys: ['name', 'mountPath'] }];
  for (const listKey of ['initContainers', 'containers'] as const) {
    const list = spec.get(listKey, true);
    if (!isSeq(list)) continue;
    (list as YAMLSeq).items.forEach((c, i) => {
      if (!isMap(c) || OWN_CONTAINERS.has(String(c.get('name')))) return;
      const field = at(`spec.${listKey}[${i}]`);
      const own = p.role === 'node' && listKey === 'containers';
      const extra = own ? (mode.containerEnv?.(edit, c, i, field, settings) ?? []) : [];
      upsertList(
        t,
        c,
        'env',
        [...processEnv, ...extra].map((value) => ({ value, keys: ['name'] })),
        `${field}.env`,
      );
      upsertList(t, c, 'volumeMounts', mount, `${field}.volumeMounts`);
    });
  }
}

/** The certificate's volumes (the mode's, or the client's Secret), and the trust bundle's pieces. */
function injectVolumes(edit: NodeEdit, { mode, settings, clientSecret }: PodChange): void {
  const { target: t, pod: p, spec, at } = edit;
  const ray = p.pod.containers[rayContainerIndex(p.ref, p.pod)];
  const runAsUser = getIn(ray?.securityContext, ['runAsUser']) ?? p.pod.runAsUser;
  const secrets = secretMode(p.pod.fsGroup !== undefined, typeof runAsUser === 'number' ? runAsUser : undefined);
  const volumes: Json[] =
    p.role === 'client'
      ? [{ name: VOLUME, secret: secretSource(clientSecret, secrets) }]
      : mode.nodeVolumes(settings, secrets);
  const withBundle = mode.bundlesTrust && p.role === 'node' ? volumes : withTrust(volumes, settings);
  upsertList(
    t,
    spec,
    'volumes',
    withBundle.map((value) => ({ value, keys: ['name'] })),
    at('spec.volumes'),
  );
  if (t.owned && withBundle === volumes && !settings.trust.length) {
    // A rotation is over (or the CA is a root again): what an earlier render added for the bundle goes.
    removeNamed(t, spec, 'volumes', [TRUST_VOLUME, SECRET_VOLUME]);
    removeNamed(t, spec, 'initContainers', [TRUST_CONTAINER]);
  }
  if (withBundle !== volumes) {
    edit.addInitContainer('trust', (image, c) => trustContainer(image, settings.mountPath, c), settings.initImage);
  }
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
