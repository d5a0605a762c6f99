// The config resolved once, early, into what the run does: the certificate mode module and
// the concrete values each layer needs. Nothing below this re-reads the config.
import { type Config, durationHours } from '../config/config.js';
import { caSecretName } from '../tls/certificates.js';
import { type CertificateMode, modeNamed } from '../tls/modes/index.js';
import type { CaSettings, PodSettings } from '../tls/settings.js';

export interface Plan {
  mode: CertificateMode;
  pods: PodSettings;
  ca: CaSettings;
  /** False: emit no cert-manager resources; the Secrets come from `ray-tls certs` or the user's PKI. */
  certManager: boolean;
  clientSelector: Record<string, string>;
  /** Change nothing; report what lacks TLS. */
  validate: boolean;
  namespace?: Namespacing;
}

/**
 * Where resources without metadata.namespace are, when the caller knows (Helm installs them into
 * the release namespace): `release` is that namespace; without it, `ask` makes Ray pods with and
 * without a namespace in one input an error, since they may be one namespace that needs one CA chain.
 */
export interface Namespacing {
  release?: string;
  ask?: boolean;
}

export function planFrom(config: Config): Plan {
  const key = config.privateKey;
  const ca: CaSettings = { ...config.ca, key };
  return {
    mode: modeNamed(config.mode)!, // readConfig accepts only known modes
    pods: {
      mountPath: config.mountPath,
      clusterDomain: config.clusterDomain,
      caSecret: caSecretName(ca),
      caIssuer: ca.name,
      leaf: {
        duration: config.duration,
        hours: durationHours(config.duration) ?? 8760,
        renewBefore: config.renewBefore,
        key,
      },
      ...(config.initImage && { initImage: config.initImage }),
      trust: config.ca.trust,
      caUnderRoot: !!(config.ca.issuerRef || config.ca.secretName),
      ...(config.auth === 'token' && { authToken: config.authSecret }),
    },
    ca,
    certManager: config.certManager,
    clientSelector: config.clientSelector,
    validate: config.validate,
  };
}
