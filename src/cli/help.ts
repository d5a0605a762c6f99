// --help: the commands, and the config fields with their defaults. The modes come from the
// registry of modes (tls/modes), so a new mode shows up here by itself.
import { DEFAULTS } from '../config/config.js';
import { MODES } from '../tls/modes/index.js';

/** The help text, built when asked: a mode registered by then is listed. */
export const helpText = (): string => `ray-tls: a KRM function that makes every Ray pod talk TLS, with a
certificate per Ray node that names the node's own address.

Usage:
  ray-tls < resource-list.yaml          KRM function: ResourceList on stdin, on stdout
  kpt fn eval DIR --exec ray-tls -- mode=per-pod
  ray-tls CONFIG_FILE < stream.yaml     legacy kustomize exec plugin: CONFIG_FILE holds
                                        the RayTLS config, stdin a multi-document stream
  ray-tls validate < resource-list.yaml
                                        change nothing; exit 1 with an error result per
                                        Ray container without TLS and per weak setting
  ray-tls certs [--out DIR] [--ca-name NAME] [--client NAME]...
                                        a CA and client certificates for clusters
                                        without cert-manager (ray-tls certs --help)
  ray-tls token [--out FILE]            a Ray auth token file for auth: token
                                        (ray-tls token --help)
  ray-tls check HOST:PORT --ca FILE [--cert FILE --key FILE] [--json] [--warn-days N]
                                        check a live Ray TLS port (ray-tls check --help)
  ray-tls --help | --version

Config (kind RayTLS, apiVersion ray-tls.io/v1alpha1, fields under spec; or a
ConfigMap with the same fields as flat keys, e.g. privateKey.size: "4096"):
  mode            ${DEFAULTS.mode} (default), one of:
${MODES.map((m) => `                    ${m.name.padEnd(9)} ${m.help}`).join('\n')}
  mountPath       ${DEFAULTS.mountPath}
  privateKey      {algorithm: RSA|ECDSA, size: ${DEFAULTS.privateKey.size}}
  duration        ${DEFAULTS.duration}      renewBefore  ${DEFAULTS.renewBefore}\
      clusterDomain  ${DEFAULTS.clusterDomain}
  ca              name: ${DEFAULTS.ca.name}   the CA ray-tls emits (a new name is a new key)
                  trust: [SECRET, ...]  further CAs every Ray pod trusts (CA rotation)
                  duration: ${DEFAULTS.ca.duration}  renewBefore: the leaf duration (at least)
                  issuerRef: {name, kind}  your issuer signs the CA (intermediate), or
                  secretName: NAME  an existing CA Secret
                  noOverlap: true   after a CA key compromise only (README: Rotation)
  certManager     true (default); false: emit no cert-manager resources, the Secrets
                  come from \`ray-tls certs\` or your PKI
  auth            ${DEFAULTS.auth} (default) or token: Ray token authentication, the token from
                  authSecret {name: ${DEFAULTS.authSecret.name}, key: ${DEFAULTS.authSecret.key}}
  initImage       image for the init containers (default: the pod's Ray image)
  validate        true: the validator (as ray-tls validate), for kpt validators: and CI
  clientSelector  {matchLabels: {...}} pods that are Ray clients without a ray:// address

Annotations: ray-tls.io/skip: "true" leaves a resource alone;
             ray-tls.io/role: node|client|none overrides the detected role;
             ray-tls.io/ray-containers: "a,b" gives these containers the TLS files and
             token too (only containers that show Ray get them); ray-tls.io/not-ray-containers
             takes them from a container.

Exit status: 0 on success, 1 on an error result or unreadable input, 2 on bad arguments,
70 on an internal error (a bug in ray-tls; RAY_TLS_DEBUG=1 prints its stack trace).
Docs: README.md.`;
