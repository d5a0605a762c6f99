// Reads what the function emitted, for tests that run it for real.
import { parse, stringify } from 'yaml';
import { run } from '../../src/function/run.js';

export type Obj = Record<string, any>;

/** A ResourceList of `items`, with a RayTLS functionConfig when `spec` is given (YAML 1.1 quoting). */
export function resourceList(items: Obj[], spec?: Obj): string {
  const functionConfig = spec && { apiVersion: 'ray-tls.io/v1alpha1', kind: 'RayTLS', metadata: { name: 't' }, spec };
  return stringify(
    { apiVersion: 'config.kubernetes.io/v1', kind: 'ResourceList', items, ...(functionConfig && { functionConfig }) },
    { version: '1.1' },
  );
}

/** A Ray head Deployment (namespace ray) and a Django-Ray client of it: the smallest cluster with a client. */
export const RAY_HEAD: Obj = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'ray-head', namespace: 'ray' },
  spec: {
    template: {
      metadata: { labels: { app: 'ray-head' } },
      spec: { containers: [{ name: 'ray-head', image: 'rayproject/ray:2.58.0', command: ['ray', 'start', '--head'] }] },
    },
  },
};
export const RAY_CLIENT: Obj = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'django', namespace: 'ray' },
  spec: {
    template: {
      spec: {
        containers: [{ name: 'app', image: 'django:1', env: [{ name: 'RAY_ADDRESS', value: 'ray://ray-head:10001' }] }],
      },
    },
  },
};

/** Runs the function over a ResourceList and returns its output items (fails the test on an error). */
export function render(input: string): Obj[] {
  const out = run(input);
  if (out.exitCode !== 0) throw new Error(`ray-tls failed:\n${out.stderr.join('\n')}`);
  return (parse(out.stdout) as Obj).items as Obj[];
}

/** The pod spec of a workload, a Pod or a PodTemplate. */
export function podSpec(item: Obj): Obj {
  return item.kind === 'Pod' ? item.spec : (item.spec?.template ?? item.template).spec;
}

/** The env of a container as the kubelet gives it, with downward-API values supplied. */
export function envOf(container: Obj, downward: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of container.env ?? []) {
    env[e.name] = e.value ?? downward[e.valueFrom?.fieldRef?.fieldPath] ?? '';
  }
  return env;
}
