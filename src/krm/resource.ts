// A Kubernetes resource as the function reads it: plain values, never written back.
import { isMap, type Json } from '../yaml/json.js';

export interface Resource {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string>; labels?: Record<string, string> };
  [key: string]: Json | undefined;
}

/**
 * The resource in a value, or why it is none: Kubernetes needs apiVersion, kind and
 * metadata.name as strings, a string namespace, and maps of labels and annotations
 * (whose values are read as strings, as Kubernetes tools print them).
 */
export function readResource(value: Json | undefined): Resource | { problem: string; field: string } {
  if (!isMap(value)) return { problem: 'is not a mapping: every item must be a Kubernetes resource', field: '' };
  const md = withGeneratedName(value.metadata);
  if (
    typeof value.apiVersion !== 'string' ||
    typeof value.kind !== 'string' ||
    !isMap(md) ||
    md.name === undefined ||
    md.name === null
  ) {
    return { problem: 'has no apiVersion, kind or metadata.name: every item must be a Kubernetes resource', field: '' };
  }
  if (typeof md.name !== 'string') {
    // `name: {{.Name}}` parses as a mapping: a template that was not rendered first.
    const hint = isMap(md.name) ? ' (a template placeholder such as {{.Name}}? render the template first)' : '';
    return { problem: `metadata.name must be a string, got ${JSON.stringify(md.name)}${hint}`, field: 'metadata.name' };
  }
  if (md.namespace !== undefined && md.namespace !== null && typeof md.namespace !== 'string') {
    return {
      problem: `metadata.namespace must be a string, got ${JSON.stringify(md.namespace)}: quote it`,
      field: 'metadata.namespace',
    };
  }
  for (const key of ['labels', 'annotations'] as const) {
    const v = md[key];
    if (v !== undefined && v !== null && !isMap(v)) {
      return { problem: `metadata.${key} must be a mapping, got ${JSON.stringify(v)}`, field: `metadata.${key}` };
    }
  }
  const { namespace, labels, annotations, ...rest } = md;
  const metadata = {
    ...rest,
    ...(typeof namespace === 'string' && { namespace }),
    ...(isMap(labels) && { labels: strings(labels) }),
    ...(isMap(annotations) && { annotations: strings(annotations) }),
  };
  return { ...value, metadata } as unknown as Resource;
}

/**
 * `kubectl create` accepts metadata.generateName instead of a name (KubeRay's RayJob samples
 * use it): the prefix, without its dash, stands for the name (results, certificate names).
 */
function withGeneratedName(md: Json | undefined): Json | undefined {
  if (!isMap(md) || md.name !== undefined || typeof md.generateName !== 'string' || !md.generateName) return md;
  return { ...md, name: md.generateName.replace(/-+$/, '') };
}

const strings = (m: Record<string, Json>): Record<string, string> =>
  Object.fromEntries(Object.entries(m).map(([k, v]) => [k, String(v)]));

export const isResource = (r: Resource | { problem: string }): r is Resource => !('problem' in r);
