// Shared by the real-Ray tests that start pods from the function's output (check.e2e.test.ts):
// rendering the shipped manifests through run(), picking the pods' Ray venv, and failing
// (not skipping) when this machine cannot run pods unless RAY_TLS_SKIP_REAL=1.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { run } from '../../src/function/run.js';
import { defaultRayVenv, type PodManifest, podFromTemplate, podSupport } from './podRunner.js';

export type Obj = Record<string, any>;

export const REPO = resolve(fileURLToPath(import.meta.url), '../../..');

/**
 * Whether to skip the real-Ray tests: only when this machine cannot run pods AND
 * RAY_TLS_SKIP_REAL=1. Otherwise a missing capability is a failure (see requirePods).
 */
export function skipReal(): boolean {
  return !podSupport().ok && process.env.RAY_TLS_SKIP_REAL === '1';
}

/** Throws (fails the suite) when pods cannot run here; call in beforeAll. */
export function requirePods(): void {
  const s = podSupport();
  if (!s.ok)
    throw new Error(
      `this machine cannot run the real-Ray pods: ${s.reason} (set RAY_TLS_SKIP_REAL=1 to ` +
        `skip these tests instead)`,
    );
}

/** `kubectl kustomize DIR` as plain objects. */
export function kustomize(dir: string): Obj[] {
  const stream = execFileSync('kubectl', ['kustomize', join(REPO, dir)], { encoding: 'utf8' });
  return parseAllDocuments(stream).map((d) => d.toJS() as Obj);
}

/** `kubectl kustomize DIR` wrapped into a ResourceList (as scripts/start.mjs does), through run(). */
export function render(dir: string, spec?: Obj): { items: Obj[]; results: Obj[] } {
  const list: Obj = { apiVersion: 'config.kubernetes.io/v1', kind: 'ResourceList', items: kustomize(dir) };
  if (spec) list.functionConfig = { apiVersion: 'ray-tls.io/v1alpha1', kind: 'RayTLS', metadata: { name: 't' }, spec };
  const out = run(stringify(list, { lineWidth: 0, indentSeq: false }));
  if (out.exitCode !== 0) throw new Error(`ray-tls failed (exit ${out.exitCode}):\n${out.stderr.join('\n')}`);
  const parsed = parse(out.stdout) as Obj;
  return { items: parsed.items as Obj[], results: (parsed.results ?? []) as Obj[] };
}

export function item(items: Obj[], kind: string, name: string): Obj {
  const found = items.find((i) => i.kind === kind && i.metadata?.name === name);
  if (!found) throw new Error(`no ${kind} ${name} among the objects`);
  return found;
}

export const template = (items: Obj[], deployment: string): Obj =>
  item(items, 'Deployment', deployment).spec.template as Obj;
export const certManagerObjects = (items: Obj[]): Obj[] =>
  items.filter((i) => String(i.apiVersion).startsWith('cert-manager.io/'));

/** Service name -> the pod (of `pods`: pod name -> its template) that the Service's selector picks. */
export function serviceTargets(items: Obj[], pods: Record<string, Obj>): Record<string, string> {
  const targets: Record<string, string> = {};
  for (const svc of items.filter((i) => i.kind === 'Service')) {
    const selector = Object.entries((svc.spec?.selector ?? {}) as Record<string, string>);
    const pod = Object.entries(pods).find(
      ([, tpl]) => selector.length > 0 && selector.every(([k, v]) => tpl.metadata?.labels?.[k] === v),
    );
    if (pod) targets[svc.metadata.name as string] = pod[0];
  }
  return targets;
}

/** A pod from a client template whose (application) command is replaced by `sleep infinity`. */
export function sleepingPod(name: string, tpl: Obj, namespace: string): PodManifest {
  const pod = podFromTemplate(name, tpl, namespace);
  const c = pod.spec.containers[0]!;
  c.command = ['sleep', 'infinity'];
  delete c.args;
  return pod;
}

function pythonRunsAs(python: string, uid: number, gid: number): boolean {
  const r = spawnSync(
    '/usr/bin/setpriv',
    [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--', '/bin/sh', '-c', 'exec "$0" -c "import ray"', python],
    { cwd: '/', encoding: 'utf8' },
  );
  return r.status === 0;
}

/** The Ray venv the pods (uid/gid of the emitted securityContext) can run; as in tls.e2e.test.ts. */
export function rayVenvForUid(uid: number, gid: number, say: (s: string) => void = () => {}): string {
  const env = { ...process.env };
  execFileSync(join(REPO, 'scripts/ensure-ray.sh'), { stdio: ['ignore', 'pipe', 'pipe'], timeout: 900_000, env });
  const main = defaultRayVenv();
  if (pythonRunsAs(join(main, 'bin/python'), uid, gid)) return main;
  const python = ['/usr/local/bin/python3', '/usr/bin/python3'].find(
    (p) =>
      existsSync(p) &&
      spawnSync(
        '/usr/bin/setpriv',
        [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--', p, '-c', 'import venv'],
        { cwd: '/' },
      ).status === 0,
  );
  if (!python) throw new Error(`${main}'s Python is not usable by uid ${uid}, and no system python3 is`);
  const venv = join(dirname(main), 'ray-venv-uid');
  execFileSync(join(REPO, 'scripts/ensure-ray.sh'), {
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 900_000,
    env: { ...env, RAY_VENV: venv, PATH: `${dirname(python)}:${env.PATH ?? ''}` },
  });
  if (!pythonRunsAs(join(venv, 'bin/python'), uid, gid)) throw new Error(`${venv} is not usable by uid ${uid}`);
  say(`${main} uses a Python uid ${uid} cannot run; the pods use ${venv} (same ray[client] 2.58.0, ${python})`);
  return venv;
}
