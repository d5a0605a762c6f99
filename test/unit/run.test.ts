import { afterEach, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { run } from '../../src/function/run.js';

type Obj = Record<string, any>;
const HEAD = 'apiVersion: config.kubernetes.io/v1\nkind: ResourceList\n';
const RAY_HEAD = `- apiVersion: apps/v1
  kind: Deployment
  metadata:
    name: ray-head
    namespace: ray
  spec:
    template:
      metadata:
        labels: {app: ray-head}
      spec:
        containers:
        - name: ray-head
          image: rayproject/ray:2.58.0
          args: [ray, start, --head, --block]
`;
const SETTINGS = `- apiVersion: v1
  kind: ConfigMap
  metadata: {name: settings, namespace: ray}
  data:
    on: yes
    perms: 0644
`;
const LIST = `${HEAD}items:\n${RAY_HEAD}${SETTINGS}`;
const withConfig = (list: string, spec: string) =>
  `${list}functionConfig:\n  apiVersion: ray-tls.io/v1alpha1\n  kind: RayTLS\n  metadata: {name: tls}\n  spec: ` +
  `${spec}\n`;
const DASHBOARD_WARNING =
  'warning: Ray serves unauthenticated HTTP on every node: the dashboard and Jobs API (8265), the dashboard agent ' +
  '(52365, accepts job submissions) and the runtime-env agent; RAY_USE_TLS covers none of them, and whoever ' +
  'reaches them runs code. Turn on token authentication: auth: token in the config, and create the token Secret ' +
  '(ray-tls token)';

describe('exit codes, stdout and stderr', () => {
  it('a Ray list: exit 0, a ResourceList on stdout, warnings (not infos) on stderr', () => {
    const out = run(LIST);
    expect(out.exitCode).toBe(0);
    expect(out.stderr).toEqual([DASHBOARD_WARNING]);
    const list = parse(out.stdout) as Obj;
    expect(list.kind).toBe('ResourceList');
    expect(list.items.map((i: Obj) => `${i.kind}/${i.metadata.name}`)).toEqual([
      'Deployment/ray-head',
      'ConfigMap/settings',
      'Issuer/ray-tls-selfsigned',
      'Certificate/ray-tls-ca',
      'Issuer/ray-tls-ca',
    ]);
    expect(list.results).toEqual(JSON.parse(JSON.stringify(out.results)));
    expect(out.stdout).toContain(SETTINGS); // untouched items keep their bytes: `on: yes`, `0644`
  });

  it('no Ray pods: exit 0, nothing but a results entry added', () => {
    const input = `${HEAD}items:\n${SETTINGS}`;
    const out = run(input);
    expect(out.exitCode).toBe(0);
    expect(out.stderr).toEqual([]);
    expect(out.stdout).toBe(
      `${input}results:\n- severity: info\n  message: "no Ray pods found: nothing changed (a Ray node runs \`ray ` +
        `start\`; a client sets a ray:// address)"\n`,
    );
  });

  it.each([
    [
      'empty input',
      '',
      'error: stdin is empty: expected a ResourceList (apiVersion: config.kubernetes.io/v1, kind: ResourceList, ' +
        'items: [...])',
    ],
    ['not YAML', 'items: [\n', /^error: input is not valid YAML: /],
    [
      'a Deployment',
      'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n',
      /^error: input is a Deployment, not a ResourceList/,
    ],
  ])('unreadable input (%s): exit 1, one error line, nothing on stdout', (_, input, line) => {
    const out = run(input);
    expect(out.exitCode).toBe(1);
    expect(out.stdout).toBe('');
    expect(out.stderr).toHaveLength(1);
    if (typeof line === 'string') expect(out.stderr[0]).toBe(line);
    else expect(out.stderr[0]).toMatch(line);
  });

  it('an invalid config: exit 1, items unchanged, one error result per problem naming the field', () => {
    const input = withConfig(`${HEAD}items:\n${RAY_HEAD}`, '{privateKey: {size: 1024}, mode: mutual}');
    const out = run(input);
    expect(out.exitCode).toBe(1);
    const list = parse(out.stdout) as Obj;
    expect(list.items).toEqual((parse(input) as Obj).items);
    expect(out.stdout.startsWith(input)).toBe(true);
    const errors = list.results.filter((r: Obj) => r.severity === 'error');
    expect(errors.map((r: Obj) => r.field.path).sort()).toEqual([
      'functionConfig.spec.mode',
      'functionConfig.spec.privateKey.size',
    ]);
    expect(list.results.at(-1)).toEqual({
      severity: 'info',
      message: 'nothing was changed: fix the errors above and run again',
    });
    expect(out.stderr).toHaveLength(2);
    for (const line of out.stderr)
      expect(line).toMatch(/^error: invalid function config: functionConfig\.spec\.(mode|privateKey\.size): /);
  });

  it('a conflicting entry: exit 1, an error line naming the resource and the field, nothing changed', () => {
    const args = 'args: [ray, start, --head, --block]';
    const env = '\n          env: [{name: RAY_USE_TLS, value: "0"}]';
    const input = `${HEAD}items:\n${RAY_HEAD.replace(args, `${args}${env}`)}`;
    const out = run(input);
    expect(out.exitCode).toBe(1);
    expect(out.stderr[0]).toBe(
      'error: Deployment ray/ray-head spec.template.spec.containers[0].env[0]: an entry with name "RAY_USE_TLS" ' +
        'already exists with other settings; ' +
        'ray-tls needs {"name":"RAY_USE_TLS","value":"1"}. Remove or rename the entry, or annotate the resource with ' +
        'ray-tls.io/skip: "true" to leave it alone',
    );
    expect((parse(out.stdout) as Obj).items).toEqual((parse(input) as Obj).items);
  });
});

describe('re-running on the output', () => {
  it('replaces the results instead of appending, and changes no item', () => {
    const first = run(LIST);
    const second = run(first.stdout);
    expect(second.exitCode).toBe(0);
    expect(second.stdout.match(/^results:/gm)).toHaveLength(1);
    const [a, b] = [first.stdout, second.stdout].map((s) => parse(s) as Obj);
    expect(b.items).toEqual(a.items);
    expect(b.results).toEqual(JSON.parse(JSON.stringify(second.results)));
    expect(b.results.at(-1).message).toBe(
      'ray-tls (per-pod): 1 Ray node pod template(s), 0 client pod template(s), 0 new resource(s)',
    );
    expect(run(second.stdout).stdout).toBe(second.stdout);
  });
});

describe('legacy exec-plugin stream mode: run(stream, configText)', () => {
  const id = (kind: string, name: string) =>
    `    kustomize.config.k8s.io/id: |\n      kind: ${kind}\n      name: ${name}\n      namespace: ray\n      ` +
    `version: v1\n`;
  const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ray-head
  namespace: ray
  annotations:
${id('Deployment', 'ray-head')}spec:
  template:
    spec:
      containers:
      - name: ray-head
        image: rayproject/ray:2.58.0
        args: [ray, start, --head]
`;
  const configMap = `apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: ray
  annotations:
    config.k8s.io/id: "2"
${id('ConfigMap', 'settings')}data:
  on: yes
`;
  const STREAM = `${deployment}---\n${configMap}`;
  const CONFIG =
    'apiVersion: ray-tls.io/v1alpha1\nkind: RayTLS\nmetadata:\n  name: tls\nspec:\n  privateKey: {algorithm: ECDSA}\n';

  it('keeps every document, its order and its id annotations, and appends the cert-manager documents', () => {
    const out = run(STREAM, CONFIG);
    expect(out.exitCode).toBe(0);
    const docs = parseAllDocuments(out.stdout).map((d) => d.toJS() as Obj);
    expect(docs.map((d) => `${d.kind}/${d.metadata.name}`)).toEqual([
      'Deployment/ray-head',
      'ConfigMap/settings',
      'Issuer/ray-tls-selfsigned',
      'Certificate/ray-tls-ca',
      'Issuer/ray-tls-ca',
    ]);
    expect(docs[0].metadata.annotations).toEqual({
      'kustomize.config.k8s.io/id': 'kind: Deployment\nname: ray-head\nnamespace: ray\nversion: v1\n',
    });
    expect(docs[0].spec.template.spec.containers[0].env[0]).toEqual({ name: 'RAY_USE_TLS', value: '1' });
    expect(out.stdout).toContain(`---\n${configMap}`); // byte for byte
    // A CA keeps its key when cert-manager renews it (docs/design.md §5.4).
    expect(docs[3].spec.privateKey).toEqual({ algorithm: 'ECDSA', size: 256, rotationPolicy: 'Never' });
    for (const d of docs.slice(2)) expect(d.metadata.namespace).toBe('ray');
    expect(out.stdout).not.toMatch(/^results:/m);
  });

  it('an invalid config: exit 1, the stream unchanged, the errors on stderr', () => {
    const out = run(STREAM, 'apiVersion: ray-tls.io/v1alpha1\nkind: RayTLS\nspec: {mode: mutual}\n');
    expect(out.exitCode).toBe(1);
    expect(out.stdout).toBe(STREAM);
    expect(out.stderr).toHaveLength(1);
    expect(out.stderr[0]).toMatch(/^error: invalid function config: functionConfig\.spec\.mode: /);
  });

  it('a config file that is not YAML: exit 1, nothing on stdout', () => {
    const out = run(STREAM, 'spec: [\n');
    expect(out).toMatchObject({ exitCode: 1, stdout: '' });
    expect(out.stderr[0]).toMatch(/^error: the config file is not valid YAML: /);
  });
});

describe('hostile input', () => {
  const laughs = (indent: string) =>
    [
      'a: &a [x, x, x, x, x, x, x, x, x, x]',
      ...'bcdefgh'.split('').map((k, i) => `${k}: &${k} [${Array(10).fill(`*${'abcdefgh'[i]}`).join(', ')}]`),
    ]
      .map((l) => indent + l)
      .join('\n') + '\n';

  it('an alias bomb in the functionConfig fails fast: exit 1, an error line, nothing on stdout', () => {
    const out = run(`${HEAD}items:\n${SETTINGS}functionConfig:\n${laughs('  ')}`);
    expect(out).toMatchObject({ exitCode: 1, stdout: '' });
    expect(out.stderr).toEqual([
      'error: cannot read the input: Excessive alias count indicates a resource exhaustion attack',
    ]);
  });

  it('an alias bomb inside a Ray pod item fails with an error result, not a thrown exception', () => {
    const out = run(
      `${HEAD}items:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: p}\n${laughs('  ')}  spec: {containers: ` +
        `[{name: r, image: i, args: [ray, start]}]}\n`,
    );
    expect(out).toMatchObject({ exitCode: 1, stdout: '' });
    expect(out.stderr[0]).toMatch(/^error: .*alias/);
  });

  // The fast path parses each item alone, so an alias to an anchor in an earlier item is unresolved
  // (the full parser reads the same list fine); transform() then throws ReferenceError.
  it('an alias to an anchor in an earlier item does not crash run()', () => {
    const input =
      `${HEAD}items:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a, labels: &l {app: x}}\n- ` +
      `apiVersion: v1\n  kind: Pod\n  metadata: {name: b, labels: *l}\n  spec: {containers: [{name: r, image: i, ` +
      `args: [ray, start]}]}\n`;
    expect(run(input).exitCode).toBe(0);
  });

  describe('prototype keys', () => {
    afterEach(() => {
      for (const k of ['polluted', 'polluted2', 'polluted3']) delete (Object.prototype as Obj)[k];
    });

    it('`__proto__` and `constructor` keys in an item do not pollute Object.prototype', () => {
      const input = `${HEAD}items:
- apiVersion: v1
  kind: Pod
  metadata:
    name: p
    __proto__: {polluted: yes}
    constructor: {prototype: {polluted2: yes}}
    annotations: {__proto__: x}
  spec:
    __proto__: {polluted3: yes}
    containers: [{name: r, image: i, args: [ray, start], __proto__: {polluted: 1}}]
`;
      const out = run(input);
      expect(out.exitCode).toBe(0);
      const probe: Obj = {};
      expect([probe.polluted, probe.polluted2, probe.polluted3]).toEqual([undefined, undefined, undefined]);
      expect(out.stdout).toContain('    __proto__: {polluted: yes}\n    constructor: {prototype: {polluted2: yes}}\n');
    });

    // config.ts fromConfigMap: `at[part]` for part "__proto__" walks to Object.prototype, then assigns to it.
    it('a ConfigMap functionConfig key "__proto__.polluted" pollutes nothing', () => {
      run(
        `${HEAD}items:\n${SETTINGS}functionConfig:\n  apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: fn}\n  ` +
          `data:\n    __proto__.polluted: "yes"\n`,
      );
      expect(({} as Obj).polluted).toBeUndefined();
    });
  });
});

describe('items kpt sends along', () => {
  const deployment =
    `- apiVersion: apps/v1\n  kind: Deployment\n  metadata:\n    name: ray-head\n    annotations: ` +
    `{config.kubernetes.io/path: head.yaml, config.kubernetes.io/index: '0'}\n  spec:\n    template:\n      spec:\n  ` +
    `      containers:\n        - {name: ray-head, image: "rayproject/ray:2.58.0", args: [ray, start, --head]}\n`;
  const kustomization =
    `- apiVersion: kustomize.config.k8s.io/v1beta1\n  kind: Kustomization\n  metadata:\n    ` +
    `annotations: {config.kubernetes.io/path: kustomization.yaml, config.kubernetes.io/index: '0'}\n  resources: ` +
    `[head.yaml]\n`;

  it('a Kustomization without metadata.name is passed through, on the fast path and the full parser alike', () => {
    const yaml = `${HEAD}items:\n${deployment}${kustomization}`;
    const json = JSON.stringify(parse(yaml));
    for (const input of [yaml, json]) {
      const out = run(input);
      expect(out.exitCode, out.stderr.join('\n')).toBe(0);
      expect((parse(out.stdout) as Obj).items.find((i: Obj) => i.kind === 'Kustomization')).toEqual(
        (parse(yaml) as Obj).items[1],
      );
    }
  });

  it('new resources go after whatever already sits in ray-tls.yaml, parsed or not', () => {
    const other =
      `- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: mine\n    annotations: ` +
      `{config.kubernetes.io/path: ray-tls.yaml, config.kubernetes.io/index: '0'}\n`;
    const out = run(`${HEAD}items:\n${deployment}${other}`);
    const placed = (parse(out.stdout) as Obj).items.filter(
      (i: Obj) => i.metadata.annotations?.['config.kubernetes.io/path'] === 'ray-tls.yaml',
    );
    expect(placed.map((i: Obj) => i.metadata.annotations['config.kubernetes.io/index'])).toEqual(['0', '1', '2', '3']);
    expect(placed[0].kind).toBe('ConfigMap');
  });
});

describe('certManager: false', () => {
  const node =
    `- apiVersion: apps/v1\n  kind: Deployment\n  metadata: {name: ray-head, namespace: n}\n  spec:\n    ` +
    `template:\n      spec:\n        containers:\n        - {name: ray-head, image: "rayproject/ray:2.58.0", args: ` +
    `[ray, start, --head]}\n`;
  it.each([
    ['per-pod', 'ray-tls-ca'],
    ['pod-dns', 'ray-tls-nodes'],
    ['shared', 'ray-tls-certs'],
  ])('%s: names the Secret the node pods mount (%s), and emits no cert-manager resource', (mode, secret) => {
    const out = run(
      `${HEAD}items:\n${node}functionConfig: {apiVersion: v1, kind: ConfigMap, metadata: {name: c}, data: ` +
        `{certManager: "false", mode: ${mode}}}\n`,
    );
    const list = parse(out.stdout) as Obj;
    const volume = list.items[0].spec.template.spec.volumes.find((v: Obj) => v.secret);
    expect(volume.secret.secretName).toBe(secret);
    expect(list.results.find((r: Obj) => r.message.startsWith('certManager: false')).message).toMatch(
      new RegExp(`: ${secret}$`),
    );
    expect(list.items.some((i: Obj) => i.apiVersion === 'cert-manager.io/v1')).toBe(false);
  });
});
