// The shipped overlays with the real kubectl (what `kubectl apply -k` builds),
// on every kubectl release installed here.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { run } from '../../src/function/run.js';
import { ROOT } from '../support/paths.js';
import { validateManifest } from '../support/validate.js';

type Obj = Record<string, any> & { apiVersion: string; kind: string };
const sdk = dirname(realpathSync(execFileSync('sh', ['-c', 'command -v kubectl'], { encoding: 'utf8' }).trim()));
const kubectls = [
  'kubectl',
  ...['1.27', '1.28', '1.29', '1.30', '1.31', '1.32', '1.33']
    .map((v) => join(sdk, `kubectl.${v}`))
    .filter((p) => existsSync(p)),
];
const build = (kubectl: string, overlay: string): Obj[] =>
  parseAllDocuments(
    execFileSync(kubectl, ['kustomize', join(ROOT, 'k8s/overlays', overlay)], { encoding: 'utf8' }),
  ).map((d) => d.toJS());
const id = (r: Obj) => `${r.kind}/${r.metadata.namespace ?? ''}/${r.metadata.name}`;
const deployments = (items: Obj[]) => items.filter((i) => i.kind === 'Deployment');
const TLS_ENV = ['RAY_USE_TLS', 'RAY_TLS_SERVER_CERT', 'RAY_TLS_SERVER_KEY', 'RAY_TLS_CA_CERT'];

it('finds the older kubectl releases beside kubectl', () => {
  expect(kubectls.length).toBeGreaterThanOrEqual(8);
});

describe.each(kubectls)('%s kustomize', (kubectl) => {
  it('dev-tls: every Ray container has the TLS env and read-only mount; the cert-manager resources are there', () => {
    const items = build(kubectl, 'dev-tls');
    const ds = deployments(items);
    expect(ds.map((d) => d.metadata.name).sort()).toEqual(['django-ray-worker', 'ray-head', 'ray-worker']);
    for (const d of ds) {
      const spec = d.spec.template.spec;
      for (const c of spec.containers) {
        const env = Object.fromEntries(c.env.map((e: Obj) => [e.name, e.value]));
        expect(env).toMatchObject({
          RAY_USE_TLS: '1',
          RAY_TLS_SERVER_CERT: '/etc/ray/tls/tls.crt',
          RAY_TLS_SERVER_KEY: '/etc/ray/tls/tls.key',
          RAY_TLS_CA_CERT: '/etc/ray/tls/ca.crt',
        });
        expect(c.volumeMounts).toContainEqual({ name: 'ray-tls', mountPath: '/etc/ray/tls', readOnly: true });
        // The CA key is never mounted into a Ray or client container.
        expect(c.volumeMounts.map((m: Obj) => m.name)).not.toContain('ray-tls-ca');
      }
      const isNode = d.metadata.name !== 'django-ray-worker';
      expect(spec.initContainers?.[0]?.name).toBe(isNode ? 'ray-tls-init' : undefined);
      const tlsVolume = spec.volumes.find((v: Obj) => v.name === 'ray-tls');
      expect(isNode ? tlsVolume.emptyDir : tlsVolume.secret).toBeTruthy();
    }
    const certManager = items
      .filter((i) => i.apiVersion === 'cert-manager.io/v1')
      .map(id)
      .sort();
    expect(certManager).toEqual([
      'Certificate/django-ray/django-ray-worker-ray-tls-client',
      'Certificate/django-ray/ray-tls-ca',
      'Issuer/django-ray/ray-tls-ca',
      'Issuer/django-ray/ray-tls-selfsigned',
    ]);
  });

  it('dev: no TLS at all', () => {
    const items = build(kubectl, 'dev');
    expect(items.some((i) => i.apiVersion === 'cert-manager.io/v1')).toBe(false);
    for (const d of deployments(items)) {
      for (const c of d.spec.template.spec.containers)
        expect((c.env ?? []).map((e: Obj) => e.name)).not.toContain(TLS_ENV[0]);
      expect(d.spec.template.spec.initContainers).toBeUndefined();
    }
  });
});

describe('the rendered dev-tls overlay', () => {
  it('is current: npm run render -- --check', () => {
    execFileSync(process.execPath, ['scripts/render.mjs', '--check'], { cwd: ROOT, stdio: 'pipe' });
  });

  // Kustomize's strategic merge puts a patch's new env, volume and mount entries before the
  // existing ones (and ignores $setElementOrder); their order carries no meaning here, so
  // those lists are compared by name. Container and init container order stays strict.
  const canonical = (v: any, key?: string): any => {
    if (Array.isArray(v)) {
      const items = v.map((x) => canonical(x));
      return key && ['env', 'volumes', 'volumeMounts'].includes(key)
        ? items.sort((a, b) => String(a.name).localeCompare(String(b.name)))
        : items;
    }
    return v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, canonical(x, k)])) : v;
  };

  it('equals a live run of the function over the dev overlay (as parsed objects)', () => {
    const dev = build('kubectl', 'dev');
    const functionConfig = parse(readFileSync(join(ROOT, 'k8s/ray-tls-config.yaml'), 'utf8'));
    const list = stringify(
      { apiVersion: 'config.kubernetes.io/v1', kind: 'ResourceList', items: dev, functionConfig },
      { indentSeq: false, version: '1.1' },
    );
    const out = run(list);
    expect(out.exitCode).toBe(0);
    const live = new Map((parse(out.stdout).items as Obj[]).map((r) => [id(r), r]));
    const rendered = new Map(build('kubectl', 'dev-tls').map((r) => [id(r), r]));
    expect([...rendered.keys()].sort()).toEqual([...live.keys()].sort());
    for (const [key, r] of rendered) expect(canonical(r), key).toEqual(canonical(live.get(key)));
  });

  it('every manifest of both overlays validates against its schema', () => {
    const all = [...build('kubectl', 'dev'), ...build('kubectl', 'dev-tls'), ...build('kubectl', '../base')];
    expect(all.length).toBeGreaterThan(10);
    for (const m of all) expect(() => validateManifest(m), id(m)).not.toThrow();
  });
});
