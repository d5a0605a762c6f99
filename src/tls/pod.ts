// What a Ray pod needs for TLS, as plain values: the env every Ray process
// reads, the volume and read-only mount, and for per-pod nodes the init
// container that issues the pod's own certificate.
import { CA_DIR, INIT_SCRIPT } from './initScript.js';
import { caSecretName, NODES_CERT, SHARED_SECRET } from './certificates.js';
import { durationHours, type Config } from '../config/config.js';
import type { Json } from '../yaml/edit.js';

export const VOLUME = 'ray-tls';
export const CA_VOLUME = 'ray-tls-ca';
export const INIT_CONTAINER = 'ray-tls-init';
export const MARKER_ANNOTATION = 'ray-tls.io/injected';

export function tlsEnv(config: Config): Json[] {
  const p = config.mountPath;
  return [
    { name: 'RAY_USE_TLS', value: '1' },
    { name: 'RAY_TLS_SERVER_CERT', value: `${p}/tls.crt` },
    { name: 'RAY_TLS_SERVER_KEY', value: `${p}/tls.key` },
    { name: 'RAY_TLS_CA_CERT', value: `${p}/ca.crt` },
  ];
}

export const tlsMount = (config: Config): Json => ({ name: VOLUME, mountPath: config.mountPath, readOnly: true });

/**
 * The volumes of a pod: per-pod nodes get an in-memory dir plus the CA Secret (for the
 * init container only), others a Secret. With an fsGroup, Secret files are group-owned and
 * mode 0440; without one the container user may not be their owner, so Kubernetes' 0644 stays.
 */
export function tlsVolumes(config: Config, role: 'node' | 'client', clientSecret: string, fsGroup: boolean): Json[] {
  const secret = (secretName: string, items?: Json) => ({ secretName, ...(items && { items }), ...(fsGroup && { defaultMode: 0o440 }) });
  if (role === 'client') return [{ name: VOLUME, secret: secret(clientSecret) }];
  if (config.mode !== 'per-pod') return [{ name: VOLUME, secret: secret(nodeSecret(config)) }];
  return [
    { name: VOLUME, emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } },
    { name: CA_VOLUME, secret: secret(nodeSecret(config), ['ca.crt', 'tls.crt', 'tls.key'].map((k) => ({ key: k, path: k }))) },
  ];
}

/** The Secret a node pod mounts: the CA (per-pod, for the init container) or the mode's node certificate. */
export function nodeSecret(config: Config): string {
  return config.mode === 'shared' ? SHARED_SECRET : config.mode === 'pod-dns' ? NODES_CERT : caSecretName(config);
}

export interface InitContainerInput {
  image: string;
  imagePullPolicy?: Json;
  securityContext?: Json;
  services: string[];
}

/** The init container that signs this pod's leaf, first in order. */
export function initContainer(config: Config, input: InitContainerInput): Json {
  const field = (fieldPath: string): Json => ({ valueFrom: { fieldRef: { fieldPath } } });
  return {
    name: INIT_CONTAINER,
    image: input.image,
    ...(input.imagePullPolicy !== undefined && { imagePullPolicy: input.imagePullPolicy }),
    command: ['sh', '-c', INIT_SCRIPT],
    env: [
      { name: 'POD_IP', ...(field('status.podIP') as object) },
      { name: 'POD_NAME', ...(field('metadata.name') as object) },
      { name: 'POD_NAMESPACE', ...(field('metadata.namespace') as object) },
      { name: 'CERT_SERVICES', value: input.services.join(' ') },
      { name: 'CERT_CLUSTER_DOMAIN', value: config.clusterDomain },
      { name: 'CERT_KEY_ALGORITHM', value: config.privateKey.algorithm },
      { name: 'CERT_KEY_SIZE', value: String(config.privateKey.size) },
      { name: 'CERT_DAYS', value: String(Math.max(1, Math.ceil((durationHours(config.duration) ?? 8760) / 24))) },
      { name: 'CERT_DIR', value: config.mountPath },
      { name: 'CA_DIR', value: CA_DIR },
    ],
    resources: { requests: { cpu: '100m', memory: '32Mi' }, limits: { memory: '64Mi' } },
    ...(input.securityContext !== undefined && { securityContext: input.securityContext }),
    volumeMounts: [
      { name: VOLUME, mountPath: config.mountPath },
      { name: CA_VOLUME, mountPath: CA_DIR, readOnly: true },
    ],
  };
}
