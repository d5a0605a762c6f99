// What every Ray pod needs for TLS whatever the mode, as plain values: the env every Ray
// process reads, the read-only mount, Secret volumes, and the marker of a rendered pod.
import type { Json } from '../yaml/json.js';

export const VOLUME = 'ray-tls';
export const MARKER_ANNOTATION = 'ray-tls.io/injected';
export const TLS_VARS = ['RAY_USE_TLS', 'RAY_TLS_SERVER_CERT', 'RAY_TLS_SERVER_KEY', 'RAY_TLS_CA_CERT'] as const;

export function tlsEnv(mountPath: string): Json[] {
  return [
    { name: 'RAY_USE_TLS', value: '1' },
    { name: 'RAY_TLS_SERVER_CERT', value: `${mountPath}/tls.crt` },
    { name: 'RAY_TLS_SERVER_KEY', value: `${mountPath}/tls.key` },
    { name: 'RAY_TLS_CA_CERT', value: `${mountPath}/ca.crt` },
  ];
}

export const tlsMount = (mountPath: string): Json => ({ name: VOLUME, mountPath, readOnly: true });

/**
 * A Secret volume source. With an fsGroup, Secret files are group-owned and mode 0440;
 * without one the container user may not be their owner, so Kubernetes' 0644 stays.
 */
export function secretSource(secretName: string, fsGroup: boolean, keys?: string[]): Json {
  return {
    secretName,
    ...(keys && { items: keys.map((k) => ({ key: k, path: k })) }),
    ...(fsGroup && { defaultMode: 0o440 }),
  };
}
