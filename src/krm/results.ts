// KRM results: what the function tells kpt (in the ResourceList) and users of
// other routes (on stderr).

import type { Json } from '../yaml/json.js';
import type { Resource } from './resource.js';

export type Severity = 'error' | 'warning' | 'info';

export interface Result {
  message: string;
  severity: Severity;
  resourceRef?: { apiVersion: string; kind: string; name: string; namespace?: string };
  field?: { path: string; currentValue?: Json; proposedValue?: Json };
  file?: { path: string; index?: number };
  tags?: Record<string, string>;
}

const PATH_ANNOTATIONS = ['internal.config.kubernetes.io/path', 'config.kubernetes.io/path'];
const INDEX_ANNOTATIONS = ['internal.config.kubernetes.io/index', 'config.kubernetes.io/index'];

/** A result about one resource, with its kpt file when the input says where it came from. */
export function about(r: Resource, severity: Severity, message: string, field?: Result['field']): Result {
  const a = r.metadata.annotations ?? {};
  const path = PATH_ANNOTATIONS.map((k) => a[k]).find(Boolean);
  const index = INDEX_ANNOTATIONS.map((k) => a[k]).find((v) => v !== undefined);
  return {
    message,
    severity,
    resourceRef: {
      apiVersion: r.apiVersion,
      kind: r.kind,
      name: r.metadata.name,
      ...(r.metadata.namespace && { namespace: r.metadata.namespace }),
    },
    ...(field && { field }),
    ...(path && { file: { path, ...(index !== undefined && { index: Number(index) }) } }),
  };
}

/** One line per result for stderr: `error: Deployment django-ray/ray-head spec...: message`. */
export function formatResult(r: Result): string {
  const ref = r.resourceRef
    ? ` ${r.resourceRef.kind} ${r.resourceRef.namespace ? `${r.resourceRef.namespace}/` : ''}${r.resourceRef.name}`
    : '';
  const file = r.file ? ` (${r.file.path}${r.file.index !== undefined ? `#${r.file.index}` : ''})` : '';
  // Messages that already name their field (config errors) do not repeat it.
  const field = r.field && !r.message.includes(r.field.path) ? ` ${r.field.path}` : '';
  const where = `${ref}${file}${field}`;
  return where ? `${r.severity}:${where}: ${r.message}` : `${r.severity}: ${r.message}`;
}

export function toJsonResult(r: Result): Json {
  return JSON.parse(JSON.stringify(r)) as Json;
}
