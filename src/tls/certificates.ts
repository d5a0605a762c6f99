// The cert-manager resources the function emits, built with the
// kubernetes-models classes and validated before they leave.
import type { Json } from '../yaml/json.js';
import * as models from './models.js';
import type { CaSettings, KeySettings, LeafSettings } from './settings.js';

export const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'ray-tls' };
export const SELF_SIGNED_ISSUER = 'ray-tls-selfsigned';
export const CA_NAME = 'ray-tls-ca';

/** The Secret holding the CA key pair (cert-manager layout: ca.crt, tls.crt, tls.key). */
export const caSecretName = (ca: Pick<CaSettings, 'secretName'>): string => ca.secretName ?? CA_NAME;

export const clientCertName = (workload: string): string => `${workload}-ray-tls-client`.slice(0, 253);

const meta = (name: string, namespace: string | undefined) => ({
  name,
  ...(namespace !== undefined && { namespace }),
  labels: { ...MANAGED_BY },
});

function privateKey(key: KeySettings) {
  // rotationPolicy Always: a renewed certificate gets a new key.
  return { algorithm: key.algorithm, size: key.size, rotationPolicy: 'Always' as const };
}

function checked(model: models.Certificate | models.Issuer): Json {
  model.validate();
  return model.toJSON() as unknown as Json;
}

/** The CA chain of one namespace: bootstrap Issuer, CA Certificate, CA Issuer (as the config asks). */
export function caChain(namespace: string | undefined, ca: CaSettings): Json[] {
  const out: Json[] = [];
  if (!ca.secretName) {
    if (!ca.issuerRef) out.push(checked(new models.Issuer({ metadata: meta(SELF_SIGNED_ISSUER, namespace), spec: { selfSigned: {} } })));
    const issuerRef = ca.issuerRef ?? { name: SELF_SIGNED_ISSUER, kind: 'Issuer', group: 'cert-manager.io' };
    out.push(
      checked(
        new models.Certificate({
          metadata: meta(CA_NAME, namespace),
          spec: {
            isCA: true,
            commonName: `ray-tls CA${namespace ? ` (${namespace})` : ''}`,
            secretName: CA_NAME,
            duration: ca.duration,
            renewBefore: ca.renewBefore,
            privateKey: privateKey(ca.key),
            usages: ['cert sign', 'crl sign', 'digital signature'],
            issuerRef,
          },
        }),
      ),
    );
  }
  out.push(checked(new models.Issuer({ metadata: meta(CA_NAME, namespace), spec: { ca: { secretName: caSecretName(ca) } } })));
  return out;
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
export function leafCertificate(leaf: LeafSpec, settings: LeafSettings): Json {
  const keyUsages =
    settings.key.algorithm === 'RSA' ? (['digital signature', 'key encipherment'] as const) : (['digital signature'] as const);
  return checked(
    new models.Certificate({
      metadata: meta(leaf.name, leaf.namespace),
      spec: {
        secretName: leaf.secretName ?? leaf.name,
        commonName: leaf.name,
        ...(leaf.dnsNames?.length && { dnsNames: leaf.dnsNames }),
        ...(leaf.ipAddresses?.length && { ipAddresses: leaf.ipAddresses }),
        duration: settings.duration,
        renewBefore: settings.renewBefore,
        privateKey: privateKey(settings.key),
        usages: [...keyUsages, ...leaf.usages],
        issuerRef: { name: CA_NAME, kind: 'Issuer', group: 'cert-manager.io' },
      },
    }),
  );
}

/** DNS names of a Service, exact names before any wildcard (gRPC tries SANs in order). */
export function serviceDnsNames(service: string, namespace: string | undefined, clusterDomain: string): string[] {
  if (namespace === undefined) return [service];
  return [service, `${service}.${namespace}`, `${service}.${namespace}.svc`, `${service}.${namespace}.svc.${clusterDomain}`];
}
