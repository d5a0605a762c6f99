// Every name that reaches a certificate is checked where it enters: the Services that select
// a Ray node, KubeRay's head Service, and the node's namespace become DNS SANs (in the per-pod
// init script's openssl config, or a Certificate's dnsNames). A Service name such as
// `x,IP:10.96.0.1,DNS:*.svc.cluster.local` would otherwise add SANs of its own. The API
// server refuses such a Service, but the input of a render is not the API server's.

import type { Resource } from '../krm/resource.js';
import { about, type Result } from '../krm/results.js';
import { fieldPath, groupPath } from '../ray/kinds.js';
import type { PodFacts } from '../tls/facts.js';

/** A Service name: a DNS-1035 label. */
export const isServiceName = (s: string) => s.length <= 63 && /^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(s);
/** A namespace name: a DNS-1123 label. */
export const isNamespaceName = (s: string) => s.length <= 63 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(s);

const LABEL = "a DNS-1035 label: lowercase letters, digits and '-', starting with a letter, at most 63 characters";

/** An error result for each name that would reach a Ray node's certificate and is not a DNS name. */
export function sanNameErrors(resources: Resource[], pods: PodFacts[]): Result[] {
  const out: Result[] = [];
  const reported = new Set<Resource>();
  for (const p of pods.filter((x) => x.role === 'node')) {
    const { namespace } = p.resource.metadata;
    for (const name of p.services.filter((n) => !isServiceName(n))) {
      const service = resources.find(
        (r) =>
          r.kind === 'Service' &&
          r.apiVersion === 'v1' &&
          r.metadata.name === name &&
          r.metadata.namespace === namespace,
      );
      if (service && !reported.has(service)) {
        reported.add(service);
        const message =
          `Service ${JSON.stringify(name)} selects the Ray node ${p.resource.kind} ${p.resource.metadata.name} ` +
          `(${p.ref.where}), so its name would go into that node's certificate, but it is not ${LABEL}: rename the ` +
          'Service';
        out.push(about(service, 'error', message, { path: 'metadata.name' }));
      } else if (!service) {
        const message =
          `${p.ref.where}: the head Service ${JSON.stringify(name)} would go into the head's certificate, but it ` +
          `is not ${LABEL}: rename headService.metadata.name (or the ${p.resource.kind}, whose name + ` +
          '"-head-svc" it is)';
        out.push(
          about(p.resource, 'error', message, { path: `${fieldPath(groupPath(p.ref))}.headService.metadata.name` }),
        );
      }
    }
    if (namespace !== undefined && !isNamespaceName(namespace)) {
      const message =
        `${p.ref.where}: namespace ${JSON.stringify(namespace)} would go into the node's certificate, but it is not ` +
        "a namespace name (a DNS-1123 label: lowercase letters, digits and '-', at most 63 characters)";
      out.push(about(p.resource, 'error', message, { path: 'metadata.namespace' }));
    }
  }
  return out;
}
