export const HELP = `ray-tls: a KRM function that makes every Ray pod talk TLS, with a
certificate per Ray node that names the node's own address.

Usage:
  ray-tls < resource-list.yaml          KRM function: ResourceList on stdin, on stdout
  kpt fn eval DIR --exec ray-tls -- mode=per-pod
  ray-tls CONFIG_FILE < stream.yaml     legacy kustomize exec plugin: CONFIG_FILE holds
                                        the RayTLS config, stdin a multi-document stream
  ray-tls certs [--out DIR] [--client NAME]...
                                        a CA and client certificates for clusters
                                        without cert-manager (ray-tls certs --help)
  ray-tls validate < resource-list.yaml
                                        change nothing; exit 1 with an error result per
                                        Ray container without TLS and per weak setting
  ray-tls --help | --version

Config (kind RayTLS, apiVersion ray-tls.io/v1alpha1, fields under spec; or a
ConfigMap with the same fields as flat keys, e.g. privateKey.size: "4096"):
  mode            per-pod (default): an init container issues each Ray node pod a
                  certificate for its pod IP; shared: one certificate (single node only)
  mountPath       /etc/ray/tls
  privateKey      {algorithm: RSA|ECDSA, size: 4096}
  duration        8760h      renewBefore  720h      clusterDomain  cluster.local
  ca              {issuerRef: {name, kind}} your issuer signs the CA (intermediate), or
                  {secretName} an existing CA Secret; {duration: 43800h}
  certManager     true (default); false: emit no cert-manager resources, the Secrets
                  come from \`ray-tls certs\` or your PKI
  initImage       image for the init container (default: the pod's Ray image)
  validate        true: the validator (as ray-tls validate), for kpt validators: and CI
  clientSelector  {matchLabels: {...}} pods that are Ray clients without a ray:// address

Annotations: ray-tls.io/skip: "true" leaves a resource alone;
             ray-tls.io/role: node|client|none overrides the detected role.

Exit status: 0 on success, 1 on an error result or unreadable input.
Docs: README.md.`;
