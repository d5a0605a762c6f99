// ray-tls as Helm's post-renderer, driven with the real Helm 3.18 and Helm 4.1 (fetched into
// .cache/k8s-tools by npm test's pretest) over a chart of our own (test/helm/chart): a
// RayCluster in the release namespace, a Ray client Deployment without a namespace, a
// ConfigMap with comments and odd quoting, and a post-install hook Job that is a Ray client.
// `helm template` is enough: no cluster. Each Helm gets its own config, data and cache dirs
// in a temp dir, so nothing of this machine's Helm setup is read or changed.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { BUNDLE, HELM3, HELM4, KUBECTL_1_34, KUBECTL_1_35, ROOT } from '../support/paths.js';

type Obj = Record<string, any>;
interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
}

const CHART = join(ROOT, 'test/helm/chart');
const NS = 'ray';
const TEMPLATE = ['template', 'demo', CHART, '--namespace', NS];
const TLS_ENV = {
  RAY_USE_TLS: '1',
  RAY_TLS_SERVER_CERT: '/etc/ray/tls/tls.crt',
  RAY_TLS_SERVER_KEY: '/etc/ray/tls/tls.key',
  RAY_TLS_CA_CERT: '/etc/ray/tls/ca.crt',
};
// Every container of the chart that is Ray's: the cluster's two and the two clients'. The worker's
// log-shipper (busybox tailing Ray's logs) shows no Ray, so it gets no TLS env and no key (least material).
const CLUSTER = ['RayCluster/demo-ray/head', 'RayCluster/demo-ray/worker'];
const SIDECAR = 'RayCluster/demo-ray/log-shipper';
const CLIENT = 'Deployment/demo-jobs/jobs';
const HOOK = 'Job/demo-smoke-test/smoke';
const CA_CHAIN = ['Certificate/ray/ray-tls-ca', 'Issuer/ray/ray-tls-ca', 'Issuer/ray/ray-tls-selfsigned'];
/** The chart's documents: the ConfigMap, the client Deployment, the RayCluster, the hook Job. */
const CHART_DOCUMENTS = 4;
/** What a route's output must hold: the chart's documents, one CA chain, a client Certificate per TLS client. */
const expected = (clients: string[], tlsContainers: number) => ({
  documents: CHART_DOCUMENTS + CA_CHAIN.length + clients.length,
  tlsContainers,
  caChains: 1,
});

let tmp = '';
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'ray-tls-helm-'));
});
afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** A fresh Helm home: its own config, data (plugins) and cache dirs, no HELM_* of this machine, no cluster. */
function helmHome(name: string): Record<string, string> {
  const dir = join(tmp, name);
  mkdirSync(dir, { recursive: true });
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k, v]) => !k.startsWith('HELM_') && v !== undefined),
  ) as Record<string, string>;
  return {
    ...env,
    HOME: dir,
    HELM_CONFIG_HOME: join(dir, 'config'),
    HELM_DATA_HOME: join(dir, 'data'),
    HELM_CACHE_HOME: join(dir, 'cache'),
    KUBECONFIG: join(dir, 'kubeconfig'),
  };
}

function sh(cmd: string, args: string[], env: Record<string, string>, cwd?: string): Ran {
  const r = spawnSync(cmd, args, { env, cwd, encoding: 'utf8', maxBuffer: 64 << 20, timeout: 120_000 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
function ok(cmd: string, args: string[], env: Record<string, string>, cwd?: string): Ran {
  const r = sh(cmd, args, env, cwd);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}:\n${r.stderr}`);
  return r;
}

const docs = (text: string): Obj[] =>
  parseAllDocuments(text)
    .map((d) => d.toJS() as Obj)
    .filter(Boolean);
const id = (r: Obj) => `${r.kind}/${r.metadata.namespace ?? ''}/${r.metadata.name}`;

/** Every container of every pod template in the output, as KIND/NAME/CONTAINER. */
function containers(items: Obj[]): Map<string, Obj> {
  const out = new Map<string, Obj>();
  const add = (r: Obj, spec: Obj | undefined) => {
    for (const c of spec?.containers ?? []) out.set(`${r.kind}/${r.metadata.name}/${c.name}`, c);
  };
  for (const r of items) {
    if (r.kind === 'RayCluster') {
      add(r, r.spec.headGroupSpec.template.spec);
      for (const g of r.spec.workerGroupSpecs) add(r, g.template.spec);
    } else add(r, r.spec?.template?.spec);
  }
  return out;
}
const hasTls = (c: Obj) => {
  const env = Object.fromEntries((c.env ?? []).map((e: Obj) => [e.name, e.value]));
  const mounted = (c.volumeMounts ?? []).some(
    (m: Obj) => m.name === 'ray-tls' && m.mountPath === '/etc/ray/tls' && m.readOnly === true,
  );
  return Object.entries(TLS_ENV).every(([k, v]) => env[k] === v) && mounted;
};
const withTls = (items: Obj[]) =>
  [...containers(items)]
    .filter(([, c]) => hasTls(c))
    .map(([name]) => name)
    .sort();
const certManager = (items: Obj[]) =>
  items
    .filter((i) => i.apiVersion === 'cert-manager.io/v1')
    .map(id)
    .sort();
const clientCerts = (names: string[]) => names.map((n) => `Certificate/ray/${n}-ray-tls-client`);

/** Helm 3's output by document: `# Source:` path (or the document's position) to its text. */
function bySource(out: string): Map<string, string> {
  const parts = out.split(/^---\n/m).filter((p) => p.trim());
  return new Map(parts.map((p, i) => [/^# Source: (.*)$/m.exec(p)?.[1] ?? `#${i}`, p]));
}

/** The counts the report gives for a route: documents, Ray containers with TLS, CA chains. */
function counts(items: Obj[]): { documents: number; tlsContainers: number; caChains: number } {
  return {
    documents: items.length,
    tlsContainers: withTls(items).length,
    caChains: items.filter((i) => i.kind === 'Certificate' && i.spec?.isCA === true).length,
  };
}

describe('Helm 3.18: --post-renderer ./dist/ray-tls.js --post-renderer-args helm', () => {
  let env: Record<string, string>;
  const plain = () => ok(HELM3, TEMPLATE, env).stdout;
  const rendered = (...args: string[]) =>
    sh(HELM3, [...TEMPLATE, '--post-renderer', BUNDLE, '--post-renderer-args', 'helm', ...args], env);
  beforeAll(() => {
    env = helmHome('helm3');
    expect(ok(HELM3, ['version', '--short'], env).stdout).toMatch(/^v3\.18\./);
  });

  it('adds TLS to every post-rendered Ray container, one CA chain in the release namespace', () => {
    const out = rendered(`--post-renderer-args=--namespace=${NS}`);
    expect(out.status, out.stderr).toBe(0);
    const items = docs(out.stdout);
    // Helm 3 post-renders no hooks: the smoke-test Job comes out as the chart made it.
    expect(withTls(items)).toEqual([CLIENT, ...CLUSTER].sort());
    expect(hasTls(containers(items).get(HOOK)!)).toBe(false);
    expect(certManager(items)).toEqual([...CA_CHAIN, ...clientCerts(['demo-jobs'])].sort());
    expect(counts(items)).toEqual(expected(['demo-jobs'], 3));
    console.info(`helm 3 route: ${JSON.stringify(counts(items))}`);
  });

  it('leaves every other document byte for byte as the chart rendered it', () => {
    const before = bySource(plain());
    const after = bySource(rendered(`--post-renderer-args=--namespace=${NS}`).stdout);
    for (const file of ['ray-demo/templates/settings.yaml', 'ray-demo/templates/smoke-test.yaml']) {
      expect(before.get(file), file).toMatch(/^# Source: /);
      expect(after.get(file), file).toBe(before.get(file));
    }
    for (const file of ['ray-demo/templates/client.yaml', 'ray-demo/templates/raycluster.yaml'])
      expect(after.get(file), file).not.toBe(before.get(file));
    expect(before.get('ray-demo/templates/settings.yaml')).toContain(`greeting: 'it''s "quoted" twice'`);
  });

  it('by name on PATH (the installed ray-tls): the same output', () => {
    const bin = join(tmp, 'bin');
    mkdirSync(bin, { recursive: true });
    symlinkSync(BUNDLE, join(bin, 'ray-tls'));
    const args = [...TEMPLATE, '--post-renderer', 'ray-tls', '--post-renderer-args', 'helm'];
    const byName = ok(HELM3, [...args, `--post-renderer-args=--namespace=${NS}`], {
      ...env,
      PATH: `${bin}:${env.PATH}`,
    });
    expect(byName.stdout).toBe(rendered(`--post-renderer-args=--namespace=${NS}`).stdout);
  });

  it("a bad setting fails the render, with ray-tls's message in Helm's own output", () => {
    const out = rendered(`--post-renderer-args=--namespace=${NS}`, '--post-renderer-args', 'mode=mutual');
    expect(out.status).not.toBe(0);
    expect(out.stdout).toBe('');
    expect(out.stderr).toMatch(/Error: error while running post render on files: .*\n.*"mutual" is not a mode/);
  });

  it('without --namespace, a Ray client without a namespace beside a RayCluster in one is an error', () => {
    const out = rendered();
    expect(out.status).not.toBe(0);
    expect(out.stderr).toContain('error: Deployment demo-jobs: no metadata.namespace, beside Ray pods in ray');
    expect(out.stderr).toContain('--post-renderer-args=--namespace=NAMESPACE');
  });

  it('template --output-dir: Helm 3 writes the files without TLS and sends ray-tls nothing, which fails', () => {
    const dir = join(tmp, 'output-dir');
    const out = rendered(`--post-renderer-args=--namespace=${NS}`, '--output-dir', dir);
    expect(out.status).not.toBe(0);
    expect(out.stderr).toContain('error: stdin is empty: expected the manifests Helm rendered');
    const written = readFileSync(join(dir, 'ray-demo/templates/raycluster.yaml'), 'utf8');
    expect(written).not.toContain('RAY_USE_TLS');
  });

  it('settings reach the function: --config=FILE and KEY=VALUE over it', () => {
    const config = join(tmp, 'ray-tls-config.yaml');
    writeFileSync(
      config,
      'apiVersion: ray-tls.io/v1alpha1\nkind: RayTLS\nmetadata:\n  name: ray-tls\nspec:\n  ca:\n    name: demo-ca\n' +
        '  auth: none\n',
    );
    const out = rendered(
      `--post-renderer-args=--namespace=${NS}`,
      `--post-renderer-args=--config=${config}`,
      '--post-renderer-args',
      'auth=token',
    );
    expect(out.status, out.stderr).toBe(0);
    const items = docs(out.stdout);
    expect(certManager(items)).toContain('Issuer/ray/demo-ca');
    expect(certManager(items)).not.toContain('Issuer/ray/ray-tls-ca');
    expect(containers(items).get(CLIENT)!.env).toContainEqual({ name: 'RAY_AUTH_MODE', value: 'token' });
    // The RayCluster's token goes through KubeRay's authOptions: the operator sets the env on its pods.
    const cluster = items.find((i) => i.kind === 'RayCluster')!;
    expect(cluster.spec.authOptions).toEqual({ mode: 'token', secretName: 'ray-auth-token' });
    for (const name of [...CLUSTER, SIDECAR])
      expect(JSON.stringify(containers(items).get(name)!.env ?? []), name).not.toContain('RAY_AUTH');
  });
});

describe('Helm 4.1: the plugin functions/helm/ray-tls (--post-renderer ray-tls)', () => {
  let env: Record<string, string>;
  const rendered = (...args: string[]) => sh(HELM4, [...TEMPLATE, '--post-renderer', 'ray-tls', ...args], env);
  beforeAll(() => {
    env = helmHome('helm4');
    expect(ok(HELM4, ['version', '--short'], env).stdout).toMatch(/^v4\.1\./);
    ok(HELM4, ['plugin', 'install', join(ROOT, 'functions/helm/ray-tls')], env);
    // A post-renderer that changes nothing, to tell Helm 4's own re-serialization from ray-tls's edits.
    const cat = join(tmp, 'cat-plugin', 'cat');
    mkdirSync(cat, { recursive: true });
    writeFileSync(
      join(cat, 'plugin.yaml'),
      'apiVersion: v1\ntype: postrenderer/v1\nname: cat\nversion: 0.0.1\nruntime: subprocess\nruntimeConfig:\n' +
        '  platformCommand:\n  - command: node\n    args: ["-e", "process.stdin.pipe(process.stdout)"]\n',
    );
    ok(HELM4, ['plugin', 'install', cat], env);
  });

  it('installs as plugin ray-tls, a postrenderer/v1 plugin of the package version', () => {
    const list = ok(HELM4, ['plugin', 'list'], env).stdout;
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    expect(list).toMatch(new RegExp(`^ray-tls\\s+${version.replace(/\./g, '\\.')}\\s+postrenderer/v1\\s+v1`, 'm'));
  });

  it('adds TLS to every Ray container, hooks too; one CA chain in the release namespace', () => {
    const out = rendered(`--post-renderer-args=--namespace=${NS}`);
    expect(out.status, out.stderr).toBe(0);
    const items = docs(out.stdout);
    expect(withTls(items)).toEqual([CLIENT, HOOK, ...CLUSTER].sort());
    expect(certManager(items)).toEqual([...CA_CHAIN, ...clientCerts(['demo-jobs', 'demo-smoke-test'])].sort());
    expect(counts(items)).toEqual(expected(['demo-jobs', 'demo-smoke-test'], 4));
    console.info(`helm 4 route: ${JSON.stringify(counts(items))}`);
    // The new documents carried the file-name annotation: Helm names their source and drops it.
    expect(out.stdout).toContain('# Source: ray-demo/ray-tls.yaml\napiVersion: cert-manager.io/v1\n');
    expect(out.stdout).not.toContain('generated-by-postrender');
    expect(out.stdout).not.toContain('postrenderer.helm.sh');
  });

  it('leaves every other document as a post-renderer that changes nothing does, byte for byte', () => {
    const viaCat = bySource(ok(HELM4, [...TEMPLATE, '--post-renderer', 'cat'], env).stdout);
    const viaTls = bySource(rendered(`--post-renderer-args=--namespace=${NS}`).stdout);
    const settings = 'ray-demo/templates/settings.yaml';
    expect(viaTls.get(settings)).toBe(viaCat.get(settings));
    // Helm 4 itself re-serializes what it sends (kyaml), comments kept; the values are the chart's.
    const plain = bySource(ok(HELM4, TEMPLATE, env).stdout);
    expect(parse(viaTls.get(settings)!)).toEqual(parse(plain.get(settings)!));
    expect(viaTls.get(settings)).toContain('# a comment between keys');
  });

  it("a bad setting fails the render, with ray-tls's message in Helm's own error line", () => {
    const out = rendered(`--post-renderer-args=--namespace=${NS}`, '--post-renderer-args', 'mode=mutual');
    expect(out.status).not.toBe(0);
    expect(out.stdout).not.toContain('RAY_USE_TLS');
    const first = out.stderr.split('\n')[0];
    expect(first).toMatch(/^Error: YAML parse error on ray-tls failed, nothing was rendered: error: /);
    expect(first).toContain('error: invalid function config: mode: "mutual" is not a mode');
    console.info(`helm 4 on an error: ${first}`);
  });

  it('a missing namespace is an error shown the same way', () => {
    const out = rendered();
    expect(out.status).not.toBe(0);
    expect(out.stderr).toContain(
      'nothing was rendered: error: Deployment demo-jobs: no metadata.namespace, beside Ray pods in ray',
    );
  });

  it('template --output-dir: Helm 4 post-renders, and writes the new documents to ray-demo/ray-tls.yaml', () => {
    const dir = join(tmp, 'output-dir-4');
    const out = rendered(`--post-renderer-args=--namespace=${NS}`, '--output-dir', dir);
    expect(out.status, out.stderr).toBe(0);
    expect(readFileSync(join(dir, 'ray-demo/templates/raycluster.yaml'), 'utf8')).toContain('RAY_USE_TLS');
    expect(certManager(docs(readFileSync(join(dir, 'ray-demo/ray-tls.yaml'), 'utf8')))).toEqual(
      [...CA_CHAIN, ...clientCerts(['demo-jobs', 'demo-smoke-test'])].sort(),
    );
  });

  it('settings reach the function through --post-renderer-args', () => {
    const out = rendered(`--post-renderer-args=--namespace=${NS}`, '--post-renderer-args', 'ca.name=demo-ca');
    expect(out.status, out.stderr).toBe(0);
    expect(certManager(docs(out.stdout))).toContain('Issuer/ray/demo-ca');
  });

  it('installs from a packaged .tgz (unsigned: --verify=false) with the bundle inside', () => {
    const home = helmHome('helm4-tgz');
    const staged = join(tmp, 'staged', 'ray-tls');
    cpSync(join(ROOT, 'functions/helm/ray-tls'), staged, { recursive: true, dereference: true });
    ok(HELM4, ['plugin', 'package', staged, '--sign=false'], home, join(tmp, 'staged'));
    const tgz = join(tmp, 'staged', 'ray-tls-0.1.0.tgz');
    const verified = sh(HELM4, ['plugin', 'install', tgz], home);
    expect(verified.status).not.toBe(0);
    expect(verified.stderr).toContain('no provenance file');
    ok(HELM4, ['plugin', 'install', tgz, '--verify=false'], home);
    const out = ok(HELM4, [...TEMPLATE, '--post-renderer', 'ray-tls', `--post-renderer-args=--namespace=${NS}`], home);
    expect(out.stdout).toBe(rendered(`--post-renderer-args=--namespace=${NS}`).stdout);
  });
});

describe('Kustomize helmCharts (functions/kustomize/helm-charts) with the legacy exec plugin and Helm 3', () => {
  const KUBECTLS = { 'kubectl 1.34': KUBECTL_1_34, 'kubectl 1.35': KUBECTL_1_35, kubectl: 'kubectl' };
  let dir = '';
  beforeAll(() => {
    dir = join(tmp, 'helm-charts');
    cpSync(join(ROOT, 'functions/kustomize/helm-charts'), dir, { recursive: true });
    cpSync(CHART, join(dir, 'charts/ray-demo'), { recursive: true });
  });
  const build = (kubectl: string, helm = HELM3) =>
    sh(kubectl, ['kustomize', '--enable-helm', '--enable-alpha-plugins', '--helm-command', helm, dir], {
      ...helmHome('kustomize'),
      KUSTOMIZE_PLUGIN_HOME: join(ROOT, 'functions/kustomize/legacy-exec/plugin'),
    });

  it.each(Object.keys(KUBECTLS))('%s: inflates the chart and runs ray-tls over all of it, hooks included', (k) => {
    const out = build(KUBECTLS[k as keyof typeof KUBECTLS]);
    expect(out.status, out.stderr).toBe(0);
    const items = docs(out.stdout);
    expect(withTls(items)).toEqual([CLIENT, HOOK, ...CLUSTER].sort());
    expect(certManager(items)).toEqual([...CA_CHAIN, ...clientCerts(['demo-jobs', 'demo-smoke-test'])].sort());
    expect(items.every((i) => i.metadata.namespace === NS)).toBe(true);
    expect(counts(items)).toEqual(expected(['demo-jobs', 'demo-smoke-test'], 4));
    console.info(`helmCharts route (${k}): ${JSON.stringify(counts(items))}`);
  });

  it('Helm 4 cannot be the --helm-command: Kustomize runs `helm version -c`', () => {
    const out = build(KUBECTL_1_35, HELM4);
    expect(out.status).not.toBe(0);
    expect(out.stderr).toContain("unknown shorthand flag: 'c' in -c");
  });
});
