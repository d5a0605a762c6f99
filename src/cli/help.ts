// --help: the commands, and the config fields with their defaults, from the fields' declarations
// (config/fields.ts); the modes come from their registry (tls/modes), so a new one shows up by itself.
import type { Field } from '../config/field.js';
import { FIELDS } from '../config/fields.js';

/** The config fields' lines, from their declarations (config/fields.ts). */
function configHelp(): string {
  let text = '';
  for (const [name, f] of Object.entries(FIELDS) as [string, Field<unknown>][]) {
    if (!f.help) continue;
    const help = f.help(f.default);
    if (f.helpLayout === 'sameLine') text += `      ${name}  ${help}`;
    else if (f.helpLayout === 'below') text += `\n${' '.repeat(18)}${name} ${help}`;
    else text += `${text ? '\n' : ''}  ${name.padEnd(16)}${help}`;
  }
  return text;
}

/** The help text, built when asked: a mode registered by then is listed. */
export const helpText = (): string => `ray-tls: a KRM function that makes every Ray pod talk TLS, with a
certificate per Ray node that names the node's own address.

Usage:
  ray-tls < resource-list.yaml          KRM function: ResourceList on stdin, on stdout
  kpt fn eval DIR --exec ray-tls -- mode=per-pod
  ray-tls CONFIG_FILE < stream.yaml     legacy kustomize exec plugin: CONFIG_FILE holds
                                        the RayTLS config, stdin a multi-document stream
  ray-tls helm [--namespace=NS] [--config=FILE] [KEY=VALUE...] < stream.yaml
                                        Helm post-renderer: the rendered chart in, with
                                        TLS out; NS is the release namespace
                                        (ray-tls helm --help; README: Helm)
  ray-tls validate < resource-list.yaml
                                        change nothing; exit 1 with an error result per
                                        Ray container without TLS, per way to a CA key
                                        and per weak setting (same config as the render)
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
${configHelp()}

Annotations: ray-tls.io/skip: "true" leaves a resource alone;
             ray-tls.io/role: node|client|none overrides the detected role;
             ray-tls.io/ray-containers: "a,b" gives these containers the TLS files and
             token too (only containers that show Ray get them); ray-tls.io/not-ray-containers
             takes them from a container.

Exit status: 0 on success, 1 on an error result or unreadable input, 2 on bad arguments,
70 on an internal error (a bug in ray-tls; RAY_TLS_DEBUG=1 prints its stack trace).
Docs: README.md.`;
