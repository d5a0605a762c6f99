// `ray-tls helm`, Helm's post-renderer: arguments, the release namespace, the file-name
// annotation Helm 4 reads, and errors under Helm 4 (test/e2e/helm.test.ts drives real Helm).
import { spawnSync } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import {
  errorDocument,
  FILENAME_ANNOTATION,
  type HelmIo,
  helmCommand,
  PLUGIN_NAME,
  parseHelmArgs,
} from '../../src/cli/helm.js';
import { BUNDLE } from '../support/paths.js';

type Obj = Record<string, any>;
const docs = (text: string): Obj[] => parseAllDocuments(text).map((d) => d.toJS() as Obj);

const CLUSTER = `---
# Source: ray-demo/templates/head.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ray-head
  namespace: ray
spec:
  template:
    spec:
      containers:
      - {name: head, image: "rayproject/ray:2.58.0", args: [ray, start, --head]}
`;
const CLIENT = `---
# Source: ray-demo/templates/client.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: jobs   # no namespace: Helm's release namespace
spec:
  template:
    spec:
      containers:
      - name: jobs
        image: app
        env: [{name: RAY_ADDRESS, value: "ray://ray-head:10001"}]
`;
const CONFIG_MAP = `---
# Source: ray-demo/templates/settings.yaml
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {a: 'it''s', b: "x"}   # odd quoting
`;

const io = (stdin: string, env: Record<string, string> = {}, files: Record<string, string> = {}): HelmIo => ({
  stdin: () => stdin,
  readFile: (p) => {
    if (!(p in files)) throw new Error('ENOENT: no such file');
    return files[p];
  },
  env,
});
const HELM4 = { HELM_PLUGIN_NAME: 'ray-tls', HELM_PLUGIN_DIR: '/plugins/ray-tls' };
const namespaces = (out: string, kind: string) =>
  docs(out)
    .filter((d) => d.kind === kind)
    .map((d) => `${d.metadata.name}@${d.metadata.namespace ?? '-'}`)
    .sort();

describe('parseHelmArgs', () => {
  it('reads --namespace, --config and KEY=VALUE settings', () => {
    expect(parseHelmArgs(['--namespace=ray', '--config', 'c.yaml', 'mode=pod-dns', 'ca.name=x=y'])).toEqual({
      namespace: 'ray',
      config: 'c.yaml',
      settings: { mode: 'pod-dns', 'ca.name': 'x=y' },
    });
    expect(parseHelmArgs([])).toEqual({ settings: {} });
  });

  it.each([
    [['mode'], 'unexpected argument mode: config fields are KEY=VALUE, such as mode=pod-dns'],
    [['=x'], 'unexpected argument =x: config fields are KEY=VALUE, such as mode=pod-dns'],
    [
      ['--namespace=Ray_NS'],
      `--namespace "Ray_NS" is not a namespace name (lowercase letters, digits and '-', at most 63)`,
    ],
    [['--release=x'], 'unknown option --release'],
  ])('%j is a usage error', (argv, message) => {
    expect(parseHelmArgs(argv)).toBe(message);
  });
});

describe('helmCommand', () => {
  it('--namespace: documents without one are in it; one CA chain there, the client certificate too', () => {
    const out = helmCommand(['--namespace=ray'], io(CLUSTER + CLIENT + CONFIG_MAP));
    expect(out.exitCode, out.stderr).toBe(0);
    expect(namespaces(out.stdout, 'Issuer')).toEqual(['ray-tls-ca@ray', 'ray-tls-selfsigned@ray']);
    expect(namespaces(out.stdout, 'Certificate')).toEqual(['jobs-ray-tls-client@ray', 'ray-tls-ca@ray']);
    // The client's own document keeps having no namespace: Helm gives it one at install.
    expect(out.stdout).toContain("  name: jobs   # no namespace: Helm's release namespace\nspec:");
    expect(out.stdout).toContain(CONFIG_MAP);
  });

  it('without --namespace, Ray pods with and without a namespace are an error: exit 1, the fix on stderr', () => {
    const out = helmCommand([], io(CLUSTER + CLIENT));
    expect(out.exitCode).toBe(1);
    expect(out.stderr).toContain(
      'error: Deployment jobs: no metadata.namespace, beside Ray pods in ray: ray-tls cannot tell the namespace ' +
        'Helm puts it in; pass the release namespace: --namespace=NAMESPACE',
    );
    expect(out.stdout).not.toContain('RAY_USE_TLS');
  });

  it('without --namespace, Ray pods all without a namespace share one chain without one', () => {
    const out = helmCommand([], io(CLIENT + CLUSTER.replace('  namespace: ray\n', '')));
    expect(out.exitCode, out.stderr).toBe(0);
    expect(namespaces(out.stdout, 'Issuer')).toEqual(['ray-tls-ca@-', 'ray-tls-selfsigned@-']);
  });

  it('settings reach the function, over the config file', () => {
    const files = {
      'c.yaml': 'apiVersion: ray-tls.io/v1alpha1\nkind: RayTLS\nmetadata: {name: x}\nspec:\n  ca: {name: a}\n',
    };
    const out = helmCommand(['--namespace=ray', '--config=c.yaml', 'ca.name=b'], io(CLUSTER, {}, files));
    expect(out.exitCode, out.stderr).toBe(0);
    expect(namespaces(out.stdout, 'Issuer')).toEqual(['b@ray', 'ray-tls-selfsigned@ray']);
  });

  it('under Helm 4 (HELM_PLUGIN_NAME set), new documents name their file beside the chart', () => {
    const annotated = `  namespace: ray\n  annotations:\n    ${FILENAME_ANNOTATION}: 'ray-demo/templates/head.yaml'\n`;
    const input = CLUSTER.replace('  namespace: ray\n', annotated);
    const out = helmCommand(['--namespace=ray'], io(input, HELM4));
    expect(out.exitCode, out.stderr).toBe(0);
    const added = docs(out.stdout).filter((d) => d.apiVersion === 'cert-manager.io/v1');
    expect(added).toHaveLength(3);
    for (const d of added) expect(d.metadata.annotations[FILENAME_ANNOTATION]).toBe('ray-demo/ray-tls.yaml');
    // Helm 3 has no such annotation: none is added.
    expect(helmCommand(['--namespace=ray'], io(CLUSTER)).stdout).not.toContain(FILENAME_ANNOTATION);
  });

  it('empty input is an error: exit 1 under Helm 3, the error document under Helm 4', () => {
    const h3 = helmCommand([], io(' \n'));
    expect(h3).toMatchObject({ stdout: '', exitCode: 1 });
    expect(h3.stderr).toMatch(/^error: stdin is empty: expected the manifests Helm rendered\. .*--output-dir/);
    const h4 = helmCommand([], io('', HELM4));
    expect(h4.exitCode).toBe(0);
    expect(h4.stdout).toBe(errorDocument([h3.stderr.trimEnd()]));
  });

  it('under Helm 4 every failure is the error document alone, exit 0: bad config, usage, unreadable file', () => {
    const bad = helmCommand(['mode=mutual'], io(CLUSTER + CONFIG_MAP, HELM4));
    expect(bad.exitCode).toBe(0);
    expect(docs(bad.stdout)).toHaveLength(1);
    const [doc] = docs(bad.stdout);
    expect(doc.kind).toEqual(['RayTLSError']); // no string: Helm's parse of it fails
    expect(doc.metadata.annotations[FILENAME_ANNOTATION]).toMatch(
      /^ray-tls failed, nothing was rendered: error: invalid function config: mode: "mutual" is not a mode/,
    );
    expect(bad.stderr).toContain('"mutual" is not a mode'); // for anyone who reads it
    for (const argv of [['oops'], ['--config=missing.yaml']]) {
      const out = helmCommand(argv, io(CLUSTER, HELM4));
      expect(out.exitCode, argv.join(' ')).toBe(0);
      expect(docs(out.stdout).map((d) => d.metadata.name)).toEqual(['ray-tls-error']);
    }
    expect(helmCommand(['oops'], io(CLUSTER)).exitCode).toBe(2);
  });

  it('the error document names itself after the errors, on one line, the first three of them', () => {
    const name = (lines: string[]) => docs(errorDocument(lines))[0].metadata.annotations[FILENAME_ANNOTATION];
    expect(name(['error: a', 'error: b "quoted"'])).toBe(
      'ray-tls failed, nothing was rendered: error: a; error: b "quoted"',
    );
    expect(name(['error: 1', 'error: 2', 'error: 3', 'error: 4', 'error: 5'])).toBe(
      'ray-tls failed, nothing was rendered: error: 1; error: 2; error: 3; and 2 more error(s): helm template ... | ' +
        'ray-tls helm --namespace=NS > /dev/null shows them all',
    );
  });

  it('HELM_PLUGIN_NAME of another plugin (a Helm 3 plugin running Helm 3): errors exit 1 with stderr', () => {
    const out = helmCommand(['mode=mutual'], io(CLUSTER, { HELM_PLUGIN_NAME: 'diff' }));
    expect(out.exitCode).toBe(1);
    expect(out.stderr).toContain('"mutual" is not a mode');
    expect(helmCommand(['--namespace=ray'], io(CLUSTER, { HELM_PLUGIN_NAME: 'diff' })).stdout).not.toContain(
      FILENAME_ANNOTATION,
    );
  });
});

describe('the bundle', () => {
  const cli = (args: string[], input = '') =>
    spawnSync(process.execPath, [BUNDLE, ...args], { input, encoding: 'utf8' });

  it('ray-tls helm --help documents the subcommand; ray-tls --help names it', () => {
    const help = cli(['helm', '--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^Usage: ray-tls helm \[--namespace=NS\] \[--config=FILE\] \[KEY=VALUE\.\.\.\]/);
    expect(help.stdout).toContain('--post-renderer-args=--namespace=NS');
    expect(cli(['--help']).stdout).toContain('ray-tls helm [--namespace=NS] [--config=FILE] [KEY=VALUE...]');
  });

  it('ray-tls helm runs over a stream on stdin', () => {
    const out = cli(['helm', '--namespace=ray'], CLUSTER + CONFIG_MAP);
    expect(out.status, out.stderr).toBe(0);
    expect(out.stdout.startsWith(CLUSTER.slice(0, CLUSTER.indexOf('spec:')))).toBe(true);
    expect(out.stdout).toContain(CONFIG_MAP);
    expect(out.stdout).toContain('RAY_USE_TLS');
  });
});

it('the plugin directory names the plugin ray-tls, runs node on the bundle with `helm`, at the package version', () => {
  const root = join(import.meta.dirname, '../..');
  const plugin = parse(readFileSync(join(root, 'functions/helm/ray-tls/plugin.yaml'), 'utf8'));
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  expect(plugin).toMatchObject({ apiVersion: 'v1', type: 'postrenderer/v1', runtime: 'subprocess', name: PLUGIN_NAME });
  expect(plugin.version).toBe(version);
  expect(plugin.runtimeConfig.platformCommand).toEqual([
    { command: 'node', args: ['${HELM_PLUGIN_DIR}/ray-tls.js', 'helm'] },
  ]);
  expect(realpathSync(join(root, 'functions/helm/ray-tls/ray-tls.js'))).toBe(realpathSync(BUNDLE));
});
