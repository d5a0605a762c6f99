// A catalog of bad inputs, each through the real binary: a clear message on
// stderr (and an error result where a ResourceList can be written), a non-zero
// exit, and never a partial ResourceList: either nothing on stdout, or every
// item exactly as it came in.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { BUNDLE } from '../support/paths.js';

const HEAD = 'apiVersion: config.kubernetes.io/v1\nkind: ResourceList\n';
const RAY = (extra = '') =>
  `- apiVersion: apps/v1\n  kind: Deployment\n  metadata: {name: ray-head, namespace: x}\n  spec:\n    template:\n   ` +
  `   spec:\n        containers:\n        - name: ray\n          image: rayproject/ray:2.58.0\n          args: ` +
  `[ray, start, --head]\n${extra}`;
const laughs = [
  'a: &a [x, x, x, x, x, x, x, x, x, x]',
  ...'bcdefgh'.split('').map((k, i) => `${k}: &${k} [${Array(10).fill(`*${'abcdefgh'[i]}`).join(', ')}]`),
];
const config = (spec: string) =>
  `functionConfig:\n  apiVersion: ray-tls.io/v1alpha1\n  kind: RayTLS\n  metadata: {name: t}\n  spec: ${spec}\n`;
const cfgDir = mkdtempSync(join(tmpdir(), 'ray-tls-bad-'));

interface Case {
  name: string;
  input: string | Buffer;
  args?: string[];
  exit?: number;
  /** What stderr must say. */
  says: RegExp;
  /** 'none': nothing on stdout; 'unchanged': the items as they came, plus error results. */
  stdout: 'none' | 'unchanged';
}

const cases: Case[] = [
  { name: 'empty stdin', input: '', says: /stdin is empty: expected a ResourceList/, stdout: 'none' },
  { name: 'only whitespace', input: '\n  \n', says: /stdin is empty/, stdout: 'none' },
  { name: 'not YAML', input: `${HEAD}items: [\n`, says: /input is not valid YAML: .*line/, stdout: 'none' },
  {
    name: 'binary garbage',
    input: Buffer.from([0, 1, 2, 0xff, 0xfe, 10, 0x7b, 0x7b]),
    says: /error: /,
    stdout: 'none',
  },
  {
    name: 'tabs for indentation',
    input: `${HEAD}items:\n-\tapiVersion: v1\n\tkind: Pod\n`,
    says: /not valid YAML/,
    stdout: 'none',
  },
  {
    name: 'a stream of two ResourceLists',
    input: `${HEAD}items: []\n---\n${HEAD}items: []\n`,
    says: /several YAML documents: expected one ResourceList/,
    stdout: 'none',
  },
  {
    name: 'a plain Deployment instead of a ResourceList',
    input: RAY().replace(/^- /, '').replace(/^ {2}/gm, ''),
    says: /input is a Deployment, not a ResourceList: pipe a ResourceList \(kpt fn source DIR \| ray-tls\)/,
    stdout: 'none',
  },
  {
    name: 'a v1 List',
    input: 'apiVersion: v1\nkind: List\nitems: []\n',
    says: /input is a List, not a ResourceList/,
    stdout: 'none',
  },
  { name: 'a YAML scalar', input: 'hello\n', says: /not a YAML mapping: expected a ResourceList/, stdout: 'none' },
  {
    name: 'a ResourceList of another apiVersion',
    input: 'apiVersion: config.kubernetes.io/v9\nkind: ResourceList\nitems: []\n',
    says: /apiVersion config.kubernetes.io\/v9 is not supported: use config.kubernetes.io\/v1/,
    stdout: 'none',
  },
  { name: 'items that are not a list', input: `${HEAD}items: 3\n`, says: /items must be a list/, stdout: 'none' },
  {
    name: 'an item that is a scalar',
    input: `${HEAD}items:\n- 3\n`,
    says: /items\[0\] is not a mapping: every item must be a Kubernetes resource/,
    stdout: 'none',
  },
  {
    name: 'an item without kind',
    input: `${HEAD}items:\n- apiVersion: v1\n  metadata: {name: x}\n`,
    says: /items\[0\] has no kind/,
    stdout: 'none',
  },
  {
    name: 'a Ray Deployment without metadata.name',
    input: `${HEAD}items:\n${RAY().replace('name: ray-head, ', '')}`,
    says: /items\[0\] has no apiVersion, kind or metadata.name/,
    stdout: 'unchanged',
  },
  {
    name: 'duplicate keys in an item',
    input: `${HEAD}items:\n${RAY('  kind: Pod\n')}`,
    says: /items\[0\] is not valid YAML: Map keys must be unique/,
    stdout: 'none',
  },
  {
    name: 'an alias bomb in a Ray item',
    input: `${HEAD}items:\n${RAY(laughs.map((l) => `  ${l}\n`).join(''))}`,
    says: /Excessive alias count indicates a resource exhaustion attack/,
    stdout: 'none',
  },
  {
    name: 'an alias bomb in the config',
    input: `${HEAD}items:\n${RAY()}functionConfig:\n${laughs.map((l) => `  ${l}\n`).join('')}`,
    says: /Excessive alias count/,
    stdout: 'none',
  },
  {
    name: 'deep nesting',
    input: `${HEAD}items:\n${RAY(`  x: ${'['.repeat(20000)}${']'.repeat(20000)}\n`)}`,
    says: /Maximum call stack size exceeded|nest/,
    stdout: 'none',
  },
  {
    name: 'an alias to a missing anchor',
    input: `${HEAD}items:\n${RAY('  x: *nowhere\n')}`,
    says: /error: .*(alias|anchor)/i,
    stdout: 'none',
  },
  {
    name: 'a config key __proto__',
    input:
      `${HEAD}items:\n${RAY()}functionConfig:\n  apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: c}\n  ` +
      `data: {__proto__.x: "1"}\n`,
    says: /functionConfig.data.__proto__.x: is not a config key/,
    stdout: 'unchanged',
  },
  {
    name: 'an unknown config field',
    input: `${HEAD}items:\n${RAY()}${config('{mountpath: /tls}')}`,
    says: /functionConfig.spec.mountpath: unknown field; did you mean mountPath\?/,
    stdout: 'unchanged',
  },
  {
    name: 'a config field of the wrong type',
    input: `${HEAD}items:\n${RAY()}${config('{privateKey: {size: big}}')}`,
    says: /functionConfig.spec.privateKey.size: must be an integer, got "big"/,
    stdout: 'unchanged',
  },
  {
    name: 'a weak key size',
    input: `${HEAD}items:\n${RAY()}${config('{privateKey: {size: 1024}}')}`,
    says: /1024 is not a valid RSA key size; use one of 2048/,
    stdout: 'unchanged',
  },
  {
    name: 'a config of the wrong kind',
    input: `${HEAD}items:\n${RAY()}functionConfig: {apiVersion: v1, kind: Secret, metadata: {name: s}}\n`,
    says: /"Secret" is not a config this function reads; use kind RayTLS/,
    stdout: 'unchanged',
  },
  {
    name: 'a config that is a list',
    input: `${HEAD}items:\n${RAY()}functionConfig: [1, 2]\n`,
    says: /functionConfig: must be a mapping/,
    stdout: 'unchanged',
  },
  {
    name: 'RAY_USE_TLS=0 on a Ray container',
    input: `${HEAD}items:\n${RAY('          env: [{name: RAY_USE_TLS, value: "0"}]\n')}`,
    says: /spec.template.spec.containers\[0\].env\[0\]: an entry with name "RAY_USE_TLS" already exists/,
    stdout: 'unchanged',
  },
  {
    name: 'another volume named ray-tls',
    input: `${HEAD}items:\n${RAY('        volumes: [{name: ray-tls, configMap: {name: c}}]\n')}`,
    says: /spec.template.spec.volumes\[0\]: an entry with name "ray-tls" already exists/,
    stdout: 'unchanged',
  },
  {
    name: 'another mount at /etc/ray/tls',
    input: `${HEAD}items:\n${RAY('          volumeMounts: [{name: old, mountPath: /etc/ray/tls}]\n')}`,
    says: /volumeMounts\[0\]: an entry with mountPath "\/etc\/ray\/tls" already exists/,
    stdout: 'unchanged',
  },
  {
    name: 'a RayCluster without its head group template',
    input:
      `${HEAD}items:\n- apiVersion: ray.io/v1\n  kind: RayCluster\n  metadata: {name: rc, namespace: x}\n  ` +
      `spec:\n    headGroupSpec: {rayStartParams: {}}\n    workerGroupSpecs:\n    - {groupName: w, rayStartParams: ` +
      `{}}\n`,
    says: /spec.headGroupSpec: headGroupSpec has no pod template/,
    stdout: 'unchanged',
  },
  {
    name: 'unknown command-line flag',
    input: `${HEAD}items: []\n`,
    args: ['--frobnicate'],
    exit: 2,
    says: /unknown arguments --frobnicate/,
    stdout: 'none',
  },
  {
    name: 'a legacy config file that does not exist',
    input: '',
    args: [join(cfgDir, 'missing.yaml')],
    exit: 2,
    says: /cannot read the config file/,
    stdout: 'none',
  },
];

describe('bad input', () => {
  it('the catalog has at least 25 cases', () => expect(cases.length).toBeGreaterThanOrEqual(25));

  it.each(cases)('$name', ({ input, args = [], exit = 1, says, stdout }) => {
    const r = spawnSync(process.execPath, [BUNDLE, ...args], { input, encoding: 'utf8' });
    expect(r.status).toBe(exit);
    expect(r.stderr).toMatch(says);
    expect(r.stderr).not.toMatch(/\n\s+at .*\(|ray-tls\.js:\d+/); // a message, not a stack trace
    if (stdout === 'none') {
      expect(r.stdout).toBe('');
      return;
    }
    const out = parse(r.stdout) as { items: unknown[]; results: { severity: string; message: string }[] };
    expect(out.items).toEqual((parse(String(input)) as { items: unknown[] }).items);
    expect(out.results.filter((x) => x.severity === 'error').length).toBeGreaterThan(0);
  });

  it('a 30 MB value is no problem: passes through byte for byte', () => {
    const big =
      `${HEAD}items:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: big}\n  data:\n    blob: ` +
      `${'x'.repeat(30 * 1024 * 1024)}\n`;
    const r = spawnSync(process.execPath, [BUNDLE], { input: big, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    expect(r.status).toBe(0);
    expect(r.stdout.startsWith(big)).toBe(true);
  });
});
