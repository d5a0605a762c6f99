// Every name that reaches a certificate is checked where it enters: the Services that select
// a Ray node, KubeRay's head Service, and the node's namespace become DNS SANs (in the per-pod
// init script's openssl config, or a Certificate's dnsNames). A Service name such as
// `x,IP:10.96.0.1,DNS:*.svc.cluster.local` would otherwise add SANs of its own. The API
// server refuses such a Service, but the input of a render is not the API server's.

import type { Resource } from '../krm/resource.js';
import { about, type Result } from '../krm/results.js';
import { fieldPath, groupPath, kubeRayHeadServices } from '../ray/kinds.js';
import { type RayPod, selects } from '../ray/pods.js';
import type { Json } from '../yaml/json.js';

/** A Service name: a DNS-1035 label. */
export const isServiceName = (s: string) => s.length <= 63 && /^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(s);
/** A namespace name: a DNS-1123 label. */
export const isNamespaceName = (s: string) => s.length <= 63 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(s);

const LABEL = "a DNS-1035 label: lowercase letters, digits and '-', starting with a letter, at most 63 characters";
const selectorOf = (r: Resource): Record<string, string> => {
  const s = (r.spec as Record<string, Json> | undefined)?.selector;
  return s && typeof s === 'object' && !Array.isArray(s) ? (s as Record<string, string>) : {};
};

/** An error result for each name that would reach a Ray node's certificate and is not a DNS name. */
export function sanNameErrors(resources: Resource[], pods: RayPod[]): Result[] {
  const nodes = pods.filter((p) => p.role === 'node');
  const out: Result[] = [];
  for (const s of resources) {
    if (s.kind !== 'Service' || s.apiVersion !== 'v1' || isServiceName(s.metadata.name)) continue;
    const node = nodes.find(
      (p) => p.resource.metadata.namespace === s.metadata.namespace && selects(selectorOf(s), p.pod.labels),
    );
    if (!node) continue;
    const message =
      `Service ${JSON.stringify(s.metadata.name)} selects the Ray node ${node.resource.kind} ` +
      `${node.resource.metadata.name} (${node.ref.where}), so its name would go into that node's certificate, but ` +
      `it is not ${LABEL}: rename the Service`;
    out.push(about(s, 'error', message, { path: 'metadata.name' }));
  }
  for (const p of nodes) {
    for (const name of kubeRayHeadServices(p.resource, p.ref).names.filter((n) => !isServiceName(n))) {
      const message =
        `${p.ref.where}: the head Service ${JSON.stringify(name)} would go into the head's certificate, but it is ` +
        `not ${LABEL}: rename headService.metadata.name (or the ${p.resource.kind}, whose name + "-head-svc" it is)`;
      const path = `${fieldPath(groupPath(p.ref))}.headService.metadata.name`;
      out.push(about(p.resource, 'error', message, { path }));
    }
    const ns = p.resource.metadata.namespace;
    if (ns !== undefined && !isNamespaceName(ns)) {
      const message =
        `${p.ref.where}: namespace ${JSON.stringify(ns)} would go into the node's certificate, but it is not a ` +
        "namespace name (a DNS-1123 label: lowercase letters, digits and '-', at most 63 characters)";
      out.push(about(p.resource, 'error', message, { path: 'metadata.namespace' }));
    }
  }
  return out;
}
