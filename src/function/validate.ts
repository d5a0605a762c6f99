// The validator: changes nothing and reports, as error results, every Ray container without
// TLS, every way to the CA key, and every setting below the security bar. For kpt
// `validators:` pipelines and CI (`ray-tls validate`, or `validate: true`). It walks the same
// Ray pods as the transformer (opt-out annotations do not exempt them), judges each pod by
// what it will do (podRules.ts) against what the function would emit for it (expected.ts),
// and asks each certificate mode what is wrong with a node pod's certificate.

import { durationHours } from '../config/config.js';
import type { Resource } from '../krm/resource.js';
import { about, type Result } from '../krm/results.js';
import { clusterSpecPath, fieldPath, operatorTls, type PodTemplateRef, podTemplates } from '../ray/kinds.js';
import { findRayPods, type PodView, podView, type RayPod } from '../ray/pods.js';
import { literalTokenWarnings } from '../tls/auth.js';
import { MODES } from '../tls/modes/index.js';
import { MARKER_ANNOTATION, ownContainerProblems } from '../tls/pod.js';
import { getIn, isMap, type Json, type JsonMap } from '../yaml/json.js';
import { expectedTemplates, ownContainers } from './expected.js';
import type { Plan } from './plan.js';
import { checkPod } from './podRules.js';

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

export function validate(resources: Resource[], plan: Plan): Result[] {
  const results = [...resources.flatMap(certificateProblems), ...resources.flatMap(literalTokenWarnings)];
  // Opt-outs are not honoured: a Ray pod is judged by what it runs.
  const { pods } = findRayPods(
    resources.map((resource, index) => ({ resource, source: index })),
    plan.clientSelector,
    false,
  );
  const ray = new Map(pods.map((p) => [podKey(p.source, p.ref), p]));
  const expected = expectedTemplates(resources, plan);
  const cas = caSecrets(resources, plan);
  resources.forEach((resource, index) => {
    for (const ref of podTemplates(resource)) {
      if (!isMap(getIn(resource as unknown as Json, ref.path))) continue;
      const p = ray.get(podKey(index, ref));
      const pod = p?.pod ?? podView(resource, ref);
      const want = p && expected(index, ref);
      const own = ownContainers(pod.initContainers, want);
      // A pod ray-tls rendered stays a Ray pod, whatever its command now shows.
      const role = p?.role ?? renderedRole(pod);
      const check = { resource, ref, pod, role, expected: want, own, cas, mountPath: plan.pods.mountPath };
      results.push(...checkPod({ ...check, ...(p?.optOut && { optOut: p.optOut }) }));
    }
  });
  results.push(...resources.filter(operatorTls).map(operatorTlsWarning));
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

/** KubeRay does the TLS (tlsOptions.enabled): left to the operator, whose feature gates the validator cannot see. */
function operatorTlsWarning(r: Resource): Result {
  const message =
    "tlsOptions.enabled: KubeRay does this cluster's TLS; the validator cannot see whether the operator runs with " +
    'its RayClusterMTLS feature gate on, without which Ray runs in plaintext';
  return about(r, 'warning', message, { path: `${fieldPath(clusterSpecPath(r)!)}.tlsOptions.enabled` });
}

/** ray-tls's own init containers that cannot work, whatever the mode (tls/pod.ts). */
const ownContainerResults = ({ resource, ref, pod }: RayPod): Result[] =>
  ownContainerProblems(pod).map((o) =>
    about(resource, 'error', o.message, { path: [fieldPath(ref.path), o.field].filter(Boolean).join('.') }),
  );

const podKey = (index: number, ref: PodTemplateRef) => `${index}:${JSON.stringify(ref.path)}`;

const renderedRole = (pod: PodView): 'node' | 'client' | undefined => {
  const role = pod.annotations[MARKER_ANNOTATION]?.split('/')[1];
  return role === 'node' || role === 'client' ? role : undefined;
};

/** The Secrets that hold a CA key: the config's (signing and trusted), every cert-manager CA's, every CA Issuer's. */
function caSecrets(resources: Resource[], plan: Plan): Set<string> {
  const names = new Set([plan.pods.caSecret, ...plan.pods.trust]);
  for (const r of resources) {
    if (!r.apiVersion.startsWith('cert-manager.io/')) continue;
    const spec = obj(r.spec as Json);
    // A CA Certificate's Secret, or a CA (Cluster)Issuer's.
    const name = r.kind === 'Certificate' ? spec.isCA === true && spec.secretName : obj(spec.ca).secretName;
    if (typeof name === 'string') names.add(name);
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
