// The bundle as users run it (built by test/support/globalSetup.ts).

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { INTERNAL_ERROR_STATUS, internalErrorText } from '../../src/cli/internalError.js';
import { BUNDLE, ROOT } from '../support/paths.js';

type Obj = Record<string, any>;
const cli = (args: string[], stdin = '') => {
  const r = spawnSync(process.execPath, [BUNDLE, ...args], { input: stdin, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};
const LIST = `apiVersion: config.kubernetes.io/v1
kind: ResourceList
items:
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: ray-head, namespace: ray}
  spec:
    template:
      spec:
        containers:
        - {name: ray-head, image: "rayproject/ray:2.58.0", args: [ray, start, --head]}
`;
const tmp = mkdtempSync(join(tmpdir(), 'ray-tls-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('ray-tls CLI', () => {
  it('--help prints the usage and exits 0', () => {
    const r = cli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ray-tls: a KRM function/);
    expect(r.stdout).toContain('Usage:');
    expect(r.stdout).toContain('ray-tls CONFIG_FILE < stream.yaml');
    expect(r.stderr).toBe('');
    expect(cli(['-h']).stdout).toBe(r.stdout);
  });

  it('--version prints the package version', () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(cli(['--version'])).toEqual({ code: 0, stdout: `ray-tls ${version}\n`, stderr: '' });
  });

  it('an unknown flag exits 2 with the usage on stderr and nothing on stdout', () => {
    const r = cli(['--frobnicate'], LIST);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^error: unknown arguments --frobnicate\n\nray-tls: a KRM function/);
    expect(r.stderr).toContain('Usage:');
  });

  it('two arguments exit 2', () => {
    expect(cli(['a.yaml', 'b.yaml']).code).toBe(2);
  });

  it('empty stdin exits 1 with a message and nothing on stdout', () => {
    expect(cli([], '')).toEqual({
      code: 1,
      stdout: '',
      stderr:
        'error: stdin is empty: expected a ResourceList (apiVersion: config.kubernetes.io/v1, kind: ResourceList, ' +
        'items: [...])\n',
    });
  });

  it('a valid list exits 0 and stdout is the ResourceList', () => {
    const r = cli([], LIST);
    expect(r.code).toBe(0);
    const list = parse(r.stdout) as Obj;
    expect(list.apiVersion).toBe('config.kubernetes.io/v1');
    expect(list.kind).toBe('ResourceList');
    expect(list.items.map((i: Obj) => i.kind)).toEqual(['Deployment', 'Issuer', 'Certificate', 'Issuer']);
    expect(list.items[0].spec.template.spec.initContainers[0].name).toBe('ray-tls-init');
    expect(r.stderr).toMatch(
      new RegExp(
        String.raw`^warning: Ray serves unauthenticated HTTP on every node: ` +
          String.raw`the dashboard and Jobs API \(8265\), the dashboard agent \(52365`,
      ),
    );
  });

  it('an invalid config exits 1; stdout holds the unchanged items plus error results', () => {
    const input =
      `${LIST}functionConfig:\n  apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: fn}\n  data: ` +
      `{privateKey.size: "1024"}\n`;
    const r = cli([], input);
    expect(r.code).toBe(1);
    const list = parse(r.stdout) as Obj;
    expect(list.items).toEqual((parse(input) as Obj).items);
    expect(list.results[0]).toMatchObject({
      severity: 'error',
      field: { path: 'functionConfig.data.privateKey.size' },
    });
    expect(r.stderr).toMatch(/^error: invalid function config: functionConfig\.data\.privateKey\.size: /);
  });

  it('legacy exec plugin: CONFIG_FILE as the argument, a document stream on stdin', () => {
    const config = join(tmp, 'raytls.yaml');
    writeFileSync(config, 'apiVersion: ray-tls.io/v1alpha1\nkind: RayTLS\nmetadata: {name: tls}\nspec: {}\n');
    const namespace =
      'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ray\n  annotations: {kustomize.config.k8s.io/id: ns}\n';
    const deployment =
      'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: ray-head, namespace: ray}\nspec:\n  template:\n    ' +
      'spec:\n      containers:\n      - {name: ray-head, image: "rayproject/ray:2.58.0", args: [ray, start, ' +
      '--head]}\n';
    const stream = `${namespace}---\n${deployment}`;
    const r = cli([config], stream);
    expect(r.code).toBe(0);
    const docs = parseAllDocuments(r.stdout).map((d) => d.toJS() as Obj);
    expect(docs.map((d) => d.kind)).toEqual(['Namespace', 'Deployment', 'Issuer', 'Certificate', 'Issuer']);
    expect(r.stdout.startsWith(`${namespace}---\n`)).toBe(true);
    expect(r.stdout).not.toContain('ResourceList');
  });

  it('a missing config file exits 2', () => {
    const r = cli([join(tmp, 'missing.yaml')], LIST);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^error: cannot read the config file .*missing\.yaml/);
  });

  it('an alias bomb exits 1 with nothing on stdout', () => {
    const bomb = [
      'a: &a [x, x, x, x, x, x, x, x, x, x]',
      ...'bcdefg'.split('').map((k, i) => `${k}: &${k} [${Array(10).fill(`*${'abcdefg'[i]}`).join(', ')}]`),
    ];
    const r = cli([], `${LIST.replace('  spec:\n', `${bomb.map((l) => `  ${l}`).join('\n')}\n  spec:\n`)}`);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('Excessive alias count');
  });
});

describe('an internal error', () => {
  it('is one line that says it is a bug in ray-tls; the stack trace only with RAY_TLS_DEBUG=1', () => {
    const e = new TypeError("Cannot read properties of undefined (reading 'get')\nmore");
    const line = internalErrorText(e, false);
    expect(line).toBe(
      'error: internal error in ray-tls (a bug, not your input): Cannot read properties of undefined (reading ' +
        "'get'); please report it with the input (RAY_TLS_DEBUG=1 prints the stack trace)\n",
    );
    expect(line.split('\n')).toHaveLength(2);
    expect(internalErrorText(e, true)).toContain('at ');
    expect(INTERNAL_ERROR_STATUS).toBe(70);
  });
});
