// The validator: changes nothing and reports, as error results, every Ray
// container without TLS and every setting below the security bar. For kpt
// `validators:` pipelines and CI (`ray-tls validate`, or `validate: true`).
import { caSecretName } from '../tls/certificates.js';
import { durationHours, type Config } from '../config/config.js';
import { decideRole, fieldPath, podTemplates, podView, SKIP_ANNOTATION, type Resource } from '../ray/discover.js';
import { POD_IP_ENV } from '../tls/modes/podDns.js';
import { INIT_CONTAINER } from '../tls/pod.js';
import { about, type Result } from '../krm/results.js';
import type { Json } from '../yaml/edit.js';

type Obj = Record<string, Json>;
const MAX_HOURS = 8760;
const obj = (v: Json | undefined): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? v : {});
const list = (v: Json | undefined): Obj[] => (Array.isArray(v) ? v.map(obj) : []);
const TLS_VARS = ['RAY_USE_TLS', 'RAY_TLS_SERVER_CERT', 'RAY_TLS_SERVER_KEY', 'RAY_TLS_CA_CERT'];
const envOf = (c: Obj | undefined): Map<string, Json | undefined> => new Map(list(c?.env).map((e) => [e.name as string, e.value]));

/** A result for a Secret in the manifests that carries a private key, if it does. */
export function keyMaterialResult(r: Resource, severity: 'error' | 'warning'): Result | undefined {
  const key = r.kind === 'Secret' && r.apiVersion === 'v1' ? carriesKey(r) : undefined;
  if (key === undefined) return undefined;
  const message = `this Secret carries key material (${key}) in the manifests: keep keys out of version control; let cert-manager issue them, or create the Secret from files (ray-tls certs)`;
  return about(r, severity, message, { path: `data.${key}` });
}

/** The pod templates of Ray nodes and clients, as the transforming run finds them (skipped resources excluded). */
function* rayPods(resources: Resource[], config: Config) {
  for (const r of resources) {
    if (r.metadata.annotations?.[SKIP_ANNOTATION] === 'true') continue;
    for (const ref of podTemplates(r)) {
      const pod = podView(r, ref);
      const { role } = decideRole(r, ref, pod, config.clientSelector);
      if (role !== 'none') yield { r, ref, pod, role };
    }
  }
}

/** The key of a Secret's data that carries a private key (by name or PEM header), if any. */
function carriesKey(secret: Resource): string | undefined {
  const data = { ...obj(secret.data as Json), ...obj(secret.stringData as Json) };
  return Object.keys(data).find((k) => /\.key$|private/i.test(k) || (typeof data[k] === 'string' && /PRIVATE KEY/.test(data[k] as string)));
}

export function validate(resources: Resource[], config: Config): Result[] {
  const results: Result[] = [];
  const caSecrets = new Set([caSecretName(config)]);
  for (const r of resources) {
    if (r.kind === 'Certificate' && r.apiVersion.startsWith('cert-manager.io/')) {
      const spec = obj(r.spec as Json);
      if (spec.isCA === true && typeof spec.secretName === 'string') caSecrets.add(spec.secretName);
      const pk = obj(spec.privateKey);
      const size = typeof pk.size === 'number' ? pk.size : undefined;
      if ((pk.algorithm ?? 'RSA') === 'RSA' && size !== undefined && size < 2048) results.push(about(r, 'error', `RSA ${size} is too weak: use 2048 or more`, { path: 'spec.privateKey.size', currentValue: size, proposedValue: 4096 }));
      const hours = typeof spec.duration === 'string' ? durationHours(spec.duration) : undefined;
      if (spec.isCA !== true && hours !== undefined && hours > MAX_HOURS) results.push(about(r, 'error', `a leaf certificate valid for ${spec.duration} (over one year): shorten it`, { path: 'spec.duration', currentValue: spec.duration, proposedValue: '8760h' }));
    }
    const leaked = keyMaterialResult(r, 'error');
    if (leaked) results.push(leaked);
  }

  for (const { r, ref, pod, role } of rayPods(resources, config)) {
    const base = ref.path.length ? `${fieldPath(ref.path)}.` : '';
    const volumes = new Map(pod.volumes.map((v) => [v.name as string, v]));
    for (const [listKey, containers] of [['containers', pod.containers], ['initContainers', pod.initContainers]] as const) {
      containers.forEach((c, i) => {
        const at = `${base}spec.${listKey}[${i}]`;
        if (c.name === INIT_CONTAINER) return;
        const env = envOf(c);
        const missing = TLS_VARS.filter((v) => !env.has(v));
        if (env.get('RAY_USE_TLS') !== undefined && env.get('RAY_USE_TLS') !== '1') results.push(about(r, 'error', `Ray ${role} container ${String(c.name)} sets RAY_USE_TLS=${String(env.get('RAY_USE_TLS'))}: TLS is off`, { path: `${at}.env` }));
        else if (missing.length) results.push(about(r, 'error', `Ray ${role} container ${String(c.name)} lacks TLS: ${missing.join(', ')} not set (run ray-tls over it)`, { path: `${at}.env` }));
        const certDir = typeof env.get('RAY_TLS_SERVER_CERT') === 'string' ? (env.get('RAY_TLS_SERVER_CERT') as string).replace(/\/[^/]*$/, '') : undefined;
        list(c.volumeMounts).forEach((m, j) => {
          const volume = volumes.get(m.name as string);
          const secret = obj(obj(volume).secret).secretName;
          if (typeof secret === 'string' && caSecrets.has(secret)) results.push(about(r, 'error', `Ray ${role} container ${String(c.name)} mounts the CA Secret ${secret}: the CA key must stay out of Ray and client containers`, { path: `${at}.volumeMounts[${j}]` }));
          if (certDir !== undefined && m.mountPath === certDir && m.readOnly !== true) results.push(about(r, 'error', `the TLS mount at ${certDir} is writable: set readOnly: true`, { path: `${at}.volumeMounts[${j}].readOnly`, currentValue: m.readOnly ?? null, proposedValue: true }));
        });
      });
    }
    const init = pod.initContainers.find((c) => c.name === INIT_CONTAINER);
    if (init) {
      const env = envOf(init);
      const days = Number(env.get('CERT_DAYS'));
      if (days * 24 > MAX_HOURS) results.push(about(r, 'error', `per-pod certificates valid for ${days} days (over one year): lower duration`, { path: `${base}spec.initContainers` }));
      const bits = Number(env.get('CERT_KEY_SIZE'));
      if (env.get('CERT_KEY_ALGORITHM') === 'RSA' && bits < 2048) results.push(about(r, 'error', `per-pod RSA keys of ${bits} bits are too weak: use 2048 or more`, { path: `${base}spec.initContainers` }));
    }
  }
  results.push(...secretCertificateNodes(resources, config));
  results.push({ severity: results.some((x) => x.severity === 'error') ? 'error' : 'info', message: `ray-tls validate: ${results.filter((x) => x.severity === 'error').length} problem(s)` });
  return results;
}

/**
 * A Ray node whose certificate comes from a Secret, without pod DNS names: the Secret was
 * issued before the pod had an IP, so it cannot name the address Ray dials (design.md §3.4).
 */
function secretCertificateNodes(resources: Resource[], config: Config): Result[] {
  const out: Result[] = [];
  for (const { r, ref, pod, role } of rayPods(resources, config)) {
    if (role !== 'node') continue;
    if (pod.containers.some((c) => envOf(c).has(POD_IP_ENV))) continue; // pod-dns: the wildcard names every node
    const cert = pod.containers.flatMap((c) => list(c.env)).find((e) => e.name === 'RAY_TLS_SERVER_CERT')?.value;
    if (typeof cert !== 'string') continue;
    const dir = cert.replace(/\/[^/]*$/, '');
    const mount = pod.containers.flatMap((c) => list(c.volumeMounts)).find((m) => m.mountPath === dir);
    const secret = obj(obj(pod.volumes.find((v) => v.name === mount?.name)).secret).secretName;
    if (typeof secret !== 'string') continue;
    out.push(about(r, 'error', `${ref.where}: the Ray node's certificate comes from Secret ${secret}, issued before the pod had an IP, so it cannot name the address Ray dials: Ray fails to start or marks the node dead. Use per-pod or pod-dns mode`));
  }
  return out;
}
