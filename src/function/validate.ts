// The validator: changes nothing and reports, as error results, every Ray container without
// TLS and every setting below the security bar. For kpt `validators:` pipelines and CI
// (`ray-tls validate`, or `validate: true`). It walks the same Ray pods as the transformer,
// and asks each certificate mode whether a node pod is its own and what is wrong with it.

import { durationHours } from '../config/config.js';
import type { Resource } from '../krm/resource.js';
import { about, type Result } from '../krm/results.js';
import { rayContainers } from '../ray/containers.js';
import { fieldPath } from '../ray/kinds.js';
import { envOf, findRayPods, type RayPod, rayContainerIndex } from '../ray/pods.js';
import { literalTokenWarnings } from '../tls/auth.js';
import { MODES } from '../tls/modes/index.js';
import { OWN_CONTAINERS, ownContainerProblems, TLS_VARS } from '../tls/pod.js';
import { isMap, type Json, type JsonMap, mapsOf } from '../yaml/json.js';
import type { Plan } from './plan.js';

const MAX_HOURS = 8760;
const obj = (v: Json | undefined): JsonMap => (isMap(v) ? v : {});

/** A result for a Secret in the manifests that carries a private key, if it does. */
export function keyMaterialResult(r: Resource, severity: 'error' | 'warning'): Result | undefined {
  const key = r.kind === 'Secret' && r.apiVersion === 'v1' ? carriesKey(r) : undefined;
  if (key === undefined) return undefined;
  const message =
    `this Secret carries key material (${key}) in the manifests: keep keys out of version control; let ` +
    `cert-manager issue them, or create the Secret from files (ray-tls certs)`;
  return about(r, severity, message, { path: `data.${key}` });
}

/** The key of a Secret's data that carries a private key (by name or PEM header), if any. */
function carriesKey(secret: Resource): string | undefined {
  const data = { ...obj(secret.data as Json), ...obj(secret.stringData as Json) };
  return Object.keys(data).find(
    (k) => /\.key$|private/i.test(k) || (typeof data[k] === 'string' && /PRIVATE KEY/.test(data[k] as string)),
  );
}

// long: the validator's rules are being split on their own branch; this keeps them as they were.
export function validate(resources: Resource[], plan: Plan): Result[] {
  const results = [...resources.flatMap(certificateProblems), ...resources.flatMap(literalTokenWarnings)];
  const { pods } = findRayPods(
    resources.map((resource) => ({ resource, source: undefined })),
    plan.clientSelector,
  );
  const cas = caSecrets(resources, plan);
  for (const { resource: r, ref, pod, role } of pods) {
    const base = ref.path.length ? `${fieldPath(ref.path)}.` : '';
    // Only the containers that talk to Ray need TLS (a log shipper sidecar gets nothing).
    const ray = rayContainers(pod, OWN_CONTAINERS, role === 'node' ? rayContainerIndex(ref, pod) : undefined).ray;
    const volumes = new Map(pod.volumes.map((v) => [v.name, v]));
    for (const [listKey, containers] of [
      ['containers', pod.containers],
      ['initContainers', pod.initContainers],
    ] as const) {
      containers.forEach((c, i) => {
        const at = `${base}spec.${listKey}[${i}]`;
        if (!ray.has(String(c.name))) return;
        const env = envOf(c);
        const missing = TLS_VARS.filter((v) => !env.has(v));
        const name = String(c.name);
        if (env.get('RAY_USE_TLS') !== undefined && env.get('RAY_USE_TLS') !== '1')
          results.push(
            about(
              r,
              'error',
              `Ray ${role} container ${name} sets RAY_USE_TLS=${String(env.get('RAY_USE_TLS'))}: TLS is off`,
              { path: `${at}.env` },
            ),
          );
        else if (missing.length)
          results.push(
            about(
              r,
              'error',
              `Ray ${role} container ${name} lacks TLS: ${missing.join(', ')} not set (run ray-tls over it)`,
              { path: `${at}.env` },
            ),
          );
        const cert = env.get('RAY_TLS_SERVER_CERT');
        const certDir = typeof cert === 'string' ? cert.replace(/\/[^/]*$/, '') : undefined;
        mapsOf(c.volumeMounts).forEach((m, j) => {
          const secret = obj(obj(volumes.get(m.name)).secret).secretName;
          if (typeof secret === 'string' && cas.has(secret))
            results.push(
              about(
                r,
                'error',
                `Ray ${role} container ${name} mounts the CA Secret ${secret}: the CA key must stay out of Ray and ` +
                  `client containers`,
                { path: `${at}.volumeMounts[${j}]` },
              ),
            );
          if (certDir !== undefined && m.mountPath === certDir && m.readOnly !== true)
            results.push(
              about(r, 'error', `the TLS mount at ${certDir} is writable: set readOnly: true`, {
                path: `${at}.volumeMounts[${j}].readOnly`,
                currentValue: m.readOnly ?? null,
                proposedValue: true,
              }),
            );
        });
      });
    }
  }
  // Each node pod's certificate, as the mode that rendered it judges it.
  for (const p of pods) {
    if (p.role !== 'node') continue;
    results.push(...(MODES.find((m) => m.recognises(p))?.validateNode(p, p.resource) ?? []));
  }
  results.push(...pods.flatMap(ownContainerResults));
  const errors = results.filter((x) => x.severity === 'error').length;
  results.push({ severity: errors ? 'error' : 'info', message: `ray-tls validate: ${errors} problem(s)` });
  return results;
}

/** ray-tls's own init containers that cannot work, whatever the mode (tls/pod.ts). */
const ownContainerResults = ({ resource, ref, pod }: RayPod): Result[] =>
  ownContainerProblems(pod).map((o) =>
    about(resource, 'error', o.message, { path: [fieldPath(ref.path), o.field].filter(Boolean).join('.') }),
  );

/** The Secrets that hold a CA key: the configured one and every cert-manager CA's. */
function caSecrets(resources: Resource[], plan: Plan): Set<string> {
  const names = new Set([plan.pods.caSecret]);
  for (const r of resources) {
    const spec = obj(r.spec as Json);
    if (
      r.kind === 'Certificate' &&
      r.apiVersion.startsWith('cert-manager.io/') &&
      spec.isCA === true &&
      typeof spec.secretName === 'string'
    )
      names.add(spec.secretName);
  }
  return names;
}

/** cert-manager Certificates below the bar, and Secrets that carry keys. */
function certificateProblems(r: Resource): Result[] {
  const out: Result[] = [];
  if (r.kind === 'Certificate' && r.apiVersion.startsWith('cert-manager.io/')) {
    const spec = obj(r.spec as Json);
    const pk = obj(spec.privateKey);
    const size = typeof pk.size === 'number' ? pk.size : undefined;
    if ((pk.algorithm ?? 'RSA') === 'RSA' && size !== undefined && size < 2048)
      out.push(
        about(r, 'error', `RSA ${size} is too weak: use 2048 or more`, {
          path: 'spec.privateKey.size',
          currentValue: size,
          proposedValue: 4096,
        }),
      );
    const hours = typeof spec.duration === 'string' ? durationHours(spec.duration) : undefined;
    if (spec.isCA !== true && hours !== undefined && hours > MAX_HOURS)
      out.push(
        about(r, 'error', `a leaf certificate valid for ${spec.duration} (over one year): shorten it`, {
          path: 'spec.duration',
          currentValue: spec.duration,
          proposedValue: '8760h',
        }),
      );
  }
  const leaked = keyMaterialResult(r, 'error');
  if (leaked) out.push(leaked);
  return out;
}
