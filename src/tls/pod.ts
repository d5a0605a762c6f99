// What every Ray pod needs for TLS whatever the mode, as plain values: the env every Ray
// process reads, the read-only mount, Secret volumes, and the marker of a rendered pod.
import type { PodView } from '../ray/pods.js';
import { isMap, type Json, mapsOf } from '../yaml/json.js';

export const VOLUME = 'ray-tls';
/** The per-pod CA Secret volume (the CA key pair), mounted into its init container alone. */
export const CA_VOLUME = 'ray-tls-ca';
/** The init container that assembles the trust bundle of a pod with a Secret certificate (trust.ts). */
export const TRUST_CONTAINER = 'ray-tls-trust';
const own = new Set([TRUST_CONTAINER]);
/**
 * Containers ray-tls adds (the trust bundle's, and those the registered modes declare): they get
 * no Ray env, and the validator does not ask them for TLS.
 */
export const OWN_CONTAINERS: ReadonlySet<string> = own;
/** Declares a container ray-tls adds (modes/index.ts registerMode). */
export const declareOwnContainer = (name: string): void => {
  own.add(name);
};
/**
 * The kind of the certificate volume (VOLUME) of a pod, which decides how a trust bundle
 * (ca.trust) gets in (trust.ts TRUST_BY_VOLUME):
 * - `secret`: a Secret; with ca.trust, an init container copies it and the bundle into memory;
 * - `filled`: an emptyDir that the mode's own init container fills: it writes the bundle from TRUST_DIR itself;
 * - `readOnly`: filled by something else (a CSI driver): nothing can add a bundle, so ca.trust is refused.
 */
export type VolumeKind = 'secret' | 'filled' | 'readOnly';
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
 * The mode of the Secret files a pod mounts. Kubernetes makes them root-owned (group fsGroup,
 * when the pod has one): 0440 with an fsGroup, 0400 for a container that runs as root, and
 * otherwise Kubernetes' 0644, since a user ray-tls cannot see (the image's) must read them.
 */
export function secretMode(fsGroup: boolean, runAsUser: number | undefined): number | undefined {
  return fsGroup ? 0o440 : runAsUser === 0 ? 0o400 : undefined;
}

/** A Secret volume source, with only `keys` when given. */
export function secretSource(secretName: string, mode: number | undefined, keys?: string[]): Json {
  return {
    secretName,
    ...(keys && { items: keys.map((k) => ({ key: k, path: k })) }),
    ...(mode !== undefined && { defaultMode: mode }),
  };
}

/** Volume sources Kubernetes mounts read-only, whatever the mount says. */
const READ_ONLY_SOURCES = ['secret', 'configMap', 'projected', 'downwardAPI'];

/**
 * What is wrong with ray-tls's own init containers in a rendered pod, whatever its mode: a mount
 * of a volume the pod lacks (it never starts), or a writable mount of a volume nothing can write.
 */
export function ownContainerProblems(pod: PodView): { field: string; message: string }[] {
  const volumes = new Map(pod.volumes.map((v) => [v.name, v]));
  const out: { field: string; message: string }[] = [];
  pod.initContainers.forEach((c, i) => {
    if (!OWN_CONTAINERS.has(String(c.name))) return;
    mapsOf(c.volumeMounts).forEach((m, j) => {
      const v = volumes.get(m.name);
      const field = `spec.initContainers[${i}].volumeMounts[${j}]`;
      const what = `ray-tls's init container ${String(c.name)} mounts volume ${String(m.name)}`;
      if (!v) out.push({ field, message: `${what}, which the pod lacks: the pod cannot start` });
      else if (m.readOnly !== true && (READ_ONLY_SOURCES.some((k) => k in v) || (isMap(v.csi) && v.csi.readOnly)))
        out.push({ field, message: `${what} to write into it, and it is read-only: the pod cannot start` });
    });
  });
  return out;
}
