// The concrete values the TLS layer works with, resolved from the config once (function/plan.ts).

export type KeyAlgorithm = 'RSA' | 'ECDSA';

export interface KeySettings {
  algorithm: KeyAlgorithm;
  size: number;
}

export interface IssuerRef {
  name: string;
  kind: 'Issuer' | 'ClusterIssuer';
  group: string;
}

/** Leaves: cert-manager Certificates and per-pod certificates alike. */
export interface LeafSettings {
  duration: string;
  /** The duration in hours, for the per-pod init container. */
  hours: number;
  renewBefore: string;
  key: KeySettings;
}

export interface CaSettings {
  /** The CA Certificate, Secret and Issuer ray-tls emits; the leaves' issuer. */
  name: string;
  /** Further CA Secrets every pod trusts (the overlap of a planned rotation). */
  trust: string[];
  /** Issue the CA certificate from the user's issuer (an intermediate CA) instead of a self-signed root. */
  issuerRef?: IssuerRef;
  /** An existing CA Secret (ca.crt, tls.crt, tls.key): no CA certificate is emitted. */
  secretName?: string;
  duration: string;
  renewBefore: string;
  key: KeySettings;
  /** Switch the signing CA at once, after a compromise: the rotation-order check is off. */
  noOverlap: boolean;
}

/** What every mode needs to know to render a pod. */
export interface PodSettings {
  mountPath: string;
  clusterDomain: string;
  /** The Secret with the CA key pair (cert-manager layout). */
  caSecret: string;
  /** The cert-manager Issuer that signs leaves with that CA. */
  caIssuer: string;
  leaf: LeafSettings;
  /** The per-pod init container's image; default: the pod's Ray image. */
  initImage?: string;
  /** Further CA Secrets every pod trusts besides caSecret (only their tls.crt is mounted). */
  trust: string[];
  /**
   * The CA may sit under a root (ca.issuerRef, ca.secretName): the ca.crt of its Secrets is then
   * that root, so pods take the CA's own certificate from the CA Secret's tls.crt (trust.ts).
   */
  caUnderRoot: boolean;
  /** Ray token authentication: the Secret and key of the token, when on. */
  authToken?: { name: string; key: string };
}
