// The cert-manager resources the function emits. They are plain objects: the function
// builds every field itself, so the tests (not each run) check them against cert-manager's
// schemas with the kubernetes-models classes (docs/design.md §6).
import type { Json } from '../yaml/json.js';
import type { CaSettings, KeySettings, LeafSettings } from './settings.js';

export const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'ray-tls' };
export const SELF_SIGNED_ISSUER = 'ray-tls-selfsigned';
export const CA_NAME = 'ray-tls-ca';

/** The Secret holding the CA key pair (cert-manager layout: ca.crt, tls.crt, tls.key). */
export const caSecretName = (ca: Pick<CaSettings, 'secretName' | 'name'>): string => ca.secretName ?? ca.name;

export const clientCertName = (workload: string): string => `${workload}-ray-tls-client`.slice(0, 253);

const meta = (name: string, namespace: string | undefined) => ({
  name,
  ...(namespace !== undefined && { namespace }),
  labels: { ...MANAGED_BY },
});

/**
 * Leaves get a new key on renewal (Always). A CA keeps its key (Never): a CA renewed with a
 * new key is not trusted by the pods started before, nor they by it (docs/design.md §5.4).
 */
function privateKey(key: KeySettings, rotationPolicy: 'Always' | 'Never') {
  return { algorithm: key.algorithm, size: key.size, rotationPolicy };
}

/** A cert-manager.io/v1 resource, apiVersion and kind first. */
function resource(kind: 'Certificate' | 'Issuer', body: { metadata: object; spec: object }): Json {
  return { apiVersion: 'cert-manager.io/v1', kind, ...body } as Json;
}

/**
 * The CA chain of one namespace: the bootstrap Issuer, the CA Certificate and its CA Issuer
 * (unless the CA is an existing Secret), and a CA Certificate for each trusted CA that
 * ray-tls issues too, so that a new CA exists (and is trusted) before it signs.
 */
export function caChain(namespace: string | undefined, ca: CaSettings): Json[] {
  const out: Json[] = [];
  if (!ca.secretName) {
    if (!ca.issuerRef)
      out.push(resource('Issuer', { metadata: meta(SELF_SIGNED_ISSUER, namespace), spec: { selfSigned: {} } }));
    for (const name of [ca.name, ...ca.trust]) out.push(caCertificate(name, namespace, ca));
  }
  out.push(resource('Issuer', { metadata: meta(ca.name, namespace), spec: { ca: { secretName: caSecretName(ca) } } }));
  return out;
}

function caCertificate(name: string, namespace: string | undefined, ca: CaSettings): Json {
  const issuerRef = ca.issuerRef ?? { name: SELF_SIGNED_ISSUER, kind: 'Issuer', group: 'cert-manager.io' };
  // Each CA its own subject: chains are built by issuer name, so two CAs must not share one.
  const commonName = `ray-tls CA${name === CA_NAME ? '' : ` ${name}`}${namespace ? ` (${namespace})` : ''}`;
  return resource('Certificate', {
    metadata: meta(name, namespace),
    spec: {
      isCA: true,
      commonName,
      secretName: name,
      duration: ca.duration,
      renewBefore: ca.renewBefore,
      privateKey: privateKey(ca.key, 'Never'),
      usages: ['cert sign', 'crl sign', 'digital signature'],
      issuerRef,
    },
  });
}

export interface LeafSpec {
  name: string;
  secretName?: string;
  namespace: string | undefined;
  usages: ('server auth' | 'client auth')[];
  dnsNames?: string[];
  ipAddresses?: string[];
}

/** A leaf issued by the namespace's CA Issuer. */
export function leafCertificate(leaf: LeafSpec, settings: LeafSettings, issuer: string): Json {
  const keyUsages =
    settings.key.algorithm === 'RSA'
      ? (['digital signature', 'key encipherment'] as const)
      : (['digital signature'] as const);
  return resource('Certificate', {
    metadata: meta(leaf.name, leaf.namespace),
    spec: {
      secretName: leaf.secretName ?? leaf.name,
      commonName: leaf.name,
      ...(leaf.dnsNames?.length && { dnsNames: leaf.dnsNames }),
      ...(leaf.ipAddresses?.length && { ipAddresses: leaf.ipAddresses }),
      duration: settings.duration,
      renewBefore: settings.renewBefore,
      privateKey: privateKey(settings.key, 'Always'),
      usages: [...keyUsages, ...leaf.usages],
      issuerRef: { name: issuer, kind: 'Issuer', group: 'cert-manager.io' },
    },
  });
}

/** DNS names of a Service, exact names before any wildcard (gRPC tries SANs in order). */
export function serviceDnsNames(service: string, namespace: string | undefined, clusterDomain: string): string[] {
  if (namespace === undefined) return [service];
  return [
    service,
    `${service}.${namespace}`,
    `${service}.${namespace}.svc`,
    `${service}.${namespace}.svc.${clusterDomain}`,
  ];
}
