// per-pod (the default): an init container in each Ray node pod signs a leaf for the pod's
// own IP with the CA, into an in-memory volume. The CA key is mounted into that container only.
import { about, type Result } from '../../krm/results.js';
import { CLUSTER_LABEL, fieldPath, groupPath } from '../../ray/kinds.js';
import { envOf, type RayPod, runsRayStart } from '../../ray/pods.js';
import { isPodIp, nodeIpAddresses, podIpVars } from '../../ray/rayStart.js';
import { getIn, type Json } from '../../yaml/json.js';
import type { PodFacts } from '../facts.js';
import { restrictedContext } from '../hardening.js';
import { CA_DIR, INIT_SCRIPT } from '../initScript.js';
import { CA_VOLUME, secretSource, VOLUME } from '../pod.js';
import type { PodSettings } from '../settings.js';
import { TRUST_DIR, trustMount } from '../trust.js';
import type { CertificateMode } from './mode.js';

/** The init container that issues the pod's leaf. */
export const INIT_CONTAINER = 'ray-tls-init';

/** The validator's bar for a leaf's lifetime. */
const MAX_HOURS = 8760;

export interface InitContainerInput {
  image: string;
  imagePullPolicy?: Json;
  securityContext?: Json;
  services: string[];
  /** KubeRay names the head Service after a cluster name it generates: read it from the pod label. */
  clusterFromLabel?: boolean;
}

/** The init container that signs this pod's leaf, first in order. */
export function initContainer(settings: PodSettings, input: InitContainerInput): Json {
  const field = (fieldPath: string) => ({ valueFrom: { fieldRef: { fieldPath } } });
  const { key, hours } = settings.leaf;
  return {
    name: INIT_CONTAINER,
    image: input.image,
    ...(input.imagePullPolicy !== undefined && { imagePullPolicy: input.imagePullPolicy }),
    command: ['sh', '-c', INIT_SCRIPT],
    env: [
      { name: 'POD_IP', ...field('status.podIP') },
      { name: 'POD_NAME', ...field('metadata.name') },
      { name: 'POD_NAMESPACE', ...field('metadata.namespace') },
      { name: 'CERT_SERVICES', value: input.services.join(' ') },
      ...(input.clusterFromLabel
        ? [{ name: 'CERT_RAY_CLUSTER', ...field(`metadata.labels['${CLUSTER_LABEL}']`) }]
        : []),
      { name: 'CERT_CLUSTER_DOMAIN', value: settings.clusterDomain },
      { name: 'CERT_KEY_ALGORITHM', value: key.algorithm },
      { name: 'CERT_KEY_SIZE', value: String(key.size) },
      { name: 'CERT_DAYS', value: String(Math.max(1, Math.ceil(hours / 24))) },
      { name: 'CERT_DIR', value: settings.mountPath },
      { name: 'CA_DIR', value: CA_DIR },
      ...(settings.trust.length ? [{ name: 'CA_TRUST_DIR', value: TRUST_DIR }] : []),
    ],
    resources: { requests: { cpu: '100m', memory: '32Mi' }, limits: { memory: '64Mi' } },
    securityContext: restrictedContext(input.securityContext),
    volumeMounts: [
      { name: VOLUME, mountPath: settings.mountPath },
      { name: CA_VOLUME, mountPath: CA_DIR, readOnly: true },
      ...(settings.trust.length ? [trustMount] : []),
    ],
  };
}

/** The --node-ip-address values the pod's Ray starts with, and the env vars that hold its pod IP. */
function advertised(p: PodFacts): { addresses: string[]; podIp: Set<string> } {
  const kuberay = p.kubeRayGroup;
  const ray = p.pod.containers[0] ?? {};
  if (p.kubeRayStart === 'generated') {
    const param = getIn(p.resource as unknown as Json, [...groupPath(p.ref), 'rayStartParams', 'node-ip-address']);
    return { addresses: param === undefined || param === null ? [] : [String(param)], podIp: podIpVars(ray.env) };
  }
  const starters = kuberay ? [ray] : p.pod.containers.filter(runsRayStart);
  return {
    addresses: starters.flatMap((c) => nodeIpAddresses(c.command, c.args)),
    podIp: new Set(starters.flatMap((c) => [...podIpVars(c.env)])),
  };
}

/** A node that advertises an address other than its pod IP: its per-pod certificate does not name it. */
function foreignAddress(p: PodFacts): Result[] {
  const { addresses, podIp } = advertised(p);
  return addresses
    .filter((a) => !isPodIp(a, podIp))
    .map((a) => {
      const message =
        `${p.ref.where}: Ray advertises --node-ip-address ${a}, which this node's certificate will not name (a ` +
        'per-pod certificate names the pod IP, 127.0.0.1, localhost and the Services that select the pod), so ' +
        'peers that verify it will refuse the node; drop node-ip-address (the pod IP is the default), or use ' +
        'mode: pod-dns for DNS names';
      return about(p.resource, 'warning', message, { path: fieldPath(p.ref.path) });
    });
}

export const perPod: CertificateMode = {
  name: 'per-pod',
  summary: 'a certificate per Ray node pod, the default',
  help: 'an init container issues each Ray node pod a certificate for its pod IP',
  namespaceCertificates: () => ({ certificates: [], results: [] }),
  nodeSecret: (settings) => settings.caSecret,
  nodeVolume: 'filled',
  ownContainers: [INIT_CONTAINER],
  nodeVolumes: (settings, pod): Json[] => [
    { name: VOLUME, emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } },
    // Only the three keys the script reads; mounted into the init container alone.
    { name: CA_VOLUME, secret: secretSource(settings.caSecret, pod.secretMode, ['ca.crt', 'tls.crt', 'tls.key']) },
  ],
  initContainer: (settings, pod) => ({
    what: 'certificate',
    make: (image, ray) =>
      initContainer(settings, {
        image,
        imagePullPolicy: ray.imagePullPolicy,
        securityContext: ray.securityContext,
        services: pod.services,
        clusterFromLabel: pod.generatedHead,
      }),
  }),
  warnNode: foreignAddress,
  describeNode: (settings) =>
    `init container ${INIT_CONTAINER} issues a certificate for the pod IP into ${settings.mountPath}`,
  lifetimeNote: (settings) =>
    `per-pod node certificates live ${settings.leaf.duration} (never past the CA's own expiry); `,
  recognises: (p) => p.pod.initContainers.some((c) => c.name === INIT_CONTAINER),
  validateNode(p: RayPod, r): Result[] {
    const env = envOf(p.pod.initContainers.find((c) => c.name === INIT_CONTAINER));
    const field = { path: `${p.ref.path.length ? `${fieldPath(p.ref.path)}.` : ''}spec.initContainers` };
    const out: Result[] = [];
    const days = Number(env.get('CERT_DAYS'));
    if (days * 24 > MAX_HOURS)
      out.push(about(r, 'error', `per-pod certificates valid for ${days} days (over one year): lower duration`, field));
    const bits = Number(env.get('CERT_KEY_SIZE'));
    if (env.get('CERT_KEY_ALGORITHM') === 'RSA' && bits < 2048)
      out.push(about(r, 'error', `per-pod RSA keys of ${bits} bits are too weak: use 2048 or more`, field));
    return out;
  },
};
