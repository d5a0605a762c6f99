// The cert-manager resources the function emits, built with the
// kubernetes-models classes and validated before they leave.
import * as models from './models.js';
import type { Config } from '../config/config.js';
import type { Json } from '../yaml/edit.js';

export const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'ray-tls' };
export const SELF_SIGNED_ISSUER = 'ray-tls-selfsigned';
export const CA_NAME = 'ray-tls-ca';
export const SHARED_CERT = 'ray-tls';
export const SHARED_SECRET = 'ray-tls-certs';
/** pod-dns mode: the one node certificate of a namespace (wildcard pod DNS SAN). */
export const NODES_CERT = 'ray-tls-nodes';

/** The Secret holding the CA key pair (cert-manager layout: ca.crt, tls.crt, tls.key). */
export const caSecretName = (config: Config): string => config.ca.secretName ?? CA_NAME;

export const clientCertName = (workload: string): string => `${workload}-ray-tls-client`.slice(0, 253);

const meta = (name: string, namespace: string | undefined) => ({
  name,
  ...(namespace !== undefined && { namespace }),
  labels: { ...MANAGED_BY },
});

function privateKey(config: Config) {
  // rotationPolicy Always: a renewed certificate gets a new key.
  return { algorithm: config.privateKey.algorithm, size: config.privateKey.size, rotationPolicy: 'Always' as const };
}

function checked(model: models.Certificate | models.Issuer): Json {
  model.validate();
  return model.toJSON() as unknown as Json;
}

/** The CA chain of one namespace: bootstrap Issuer, CA Certificate, CA Issuer (as the config asks). */
export function caChain(namespace: string | undefined, config: Config): Json[] {
  const out: Json[] = [];
  if (!config.ca.secretName) {
    if (!config.ca.issuerRef) out.push(checked(new models.Issuer({ metadata: meta(SELF_SIGNED_ISSUER, namespace), spec: { selfSigned: {} } })));
    const issuerRef = config.ca.issuerRef ?? { name: SELF_SIGNED_ISSUER, kind: 'Issuer', group: 'cert-manager.io' };
    out.push(
      checked(
        new models.Certificate({
          metadata: meta(CA_NAME, namespace),
          spec: {
            isCA: true,
            commonName: `ray-tls CA${namespace ? ` (${namespace})` : ''}`,
            secretName: CA_NAME,
            duration: config.ca.duration,
            renewBefore: config.renewBefore,
            privateKey: privateKey(config),
            usages: ['cert sign', 'crl sign', 'digital signature'],
            issuerRef,
          },
        }),
      ),
    );
  }
  out.push(checked(new models.Issuer({ metadata: meta(CA_NAME, namespace), spec: { ca: { secretName: caSecretName(config) } } })));
  return out;
}

interface LeafSpec {
  name: string;
  namespace: string | undefined;
  usages: ('server auth' | 'client auth')[];
  dnsNames?: string[];
  ipAddresses?: string[];
}

/** A leaf issued by the namespace's CA Issuer. */
export function leafCertificate(leaf: LeafSpec, config: Config): Json {
  const keyUsages = config.privateKey.algorithm === 'RSA' ? (['digital signature', 'key encipherment'] as const) : (['digital signature'] as const);
  return checked(
    new models.Certificate({
      metadata: meta(leaf.name, leaf.namespace),
      spec: {
        secretName: leaf.name === SHARED_CERT ? SHARED_SECRET : leaf.name,
        commonName: leaf.name,
        ...(leaf.dnsNames?.length && { dnsNames: leaf.dnsNames }),
        ...(leaf.ipAddresses?.length && { ipAddresses: leaf.ipAddresses }),
        duration: config.duration,
        renewBefore: config.renewBefore,
        privateKey: privateKey(config),
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
