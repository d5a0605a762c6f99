// Reads what the function emitted, for tests that run it for real.
import { parse } from 'yaml';
import { run } from '../../src/function/run.js';

export type Obj = Record<string, any>;

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
