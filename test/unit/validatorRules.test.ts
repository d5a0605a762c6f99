// The validator's pieces on their own: the command reader that finds TLS env writes, the
// `ray start` reader it shares with discovery, and the per-pod mode's rule for its init container.
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { checkPod } from '../../src/function/podRules.js';
import { run } from '../../src/function/run.js';
import type { Resource } from '../../src/krm/resource.js';
import { tlsEnvWrite } from '../../src/ray/envWrites.js';
import { podTemplates } from '../../src/ray/kinds.js';
import { findRayPods, podView } from '../../src/ray/pods.js';
import { findRayStart } from '../../src/ray/rayStart.js';
import { perPod } from '../../src/tls/modes/perPod.js';
import { getIn, type JsonMap } from '../../src/yaml/json.js';

const sh = (script: string) => ['sh', '-c', script];

describe('tlsEnvWrite: a command that sets, exports, unsets or clears the TLS env', () => {
  it.each([
    ['assignment before exec', sh('RAY_USE_TLS=0 exec ray start --head')],
    ['assignment on its own line', sh('set -e\nRAY_USE_TLS=0\nray start --head')],
    ['unset after ;', sh('unset RAY_USE_TLS; ray start --head')],
    ['unset -v after &&', sh('true && unset -v RAY_TLS_CA_CERT && ray start')],
    ['export', ['bash', '-lc', 'export RAY_TLS_SERVER_CERT=/tmp/c; exec ray start']],
    ['export -n', sh('export -n RAY_USE_TLS; ray start')],
    ['declare -x', ['bash', '-c', 'declare -x RAY_TLS_SERVER_KEY=/tmp/k; ray start']],
    ['typeset', ['ksh', '-c', 'typeset RAY_USE_TLS=0; ray start']],
    ['readonly', sh('readonly RAY_USE_TLS=0; ray start')],
    ['local in a function', ['bash', '-c', 'f() { local RAY_USE_TLS=0; ray start; }; f']],
    ['read', ['bash', '-c', 'read RAY_USE_TLS <<< 0; ray start']],
    ['printf -v', ['bash', '-c', 'printf -v RAY_USE_TLS 0; ray start']],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell text, not a template
    ['a default assignment', sh(': "${RAY_USE_TLS:=0}"; ray start')],
    ['for over the name', ['bash', '-c', 'for RAY_USE_TLS in 0; do ray start; done']],
    ['eval', sh('eval "RAY_USE_TLS=0"; ray start')],
    ['a quoted name', sh('unset "RAY_US""E_TLS"; ray start')],
    ['a backslash in the name', sh('unset RAY_US\\E_TLS; ray start')],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell text, not a template
    ['a name built from a variable', sh('N=RAY_USE_; unset "${N}TLS"; ray start')],
    ['nested sh -c', sh("sh -c 'RAY_USE_TLS=0 ray start --head'")],
    ['nested bash -lc after --', ['bash', '-lc', '--', "bash -lc 'export RAY_USE_TLS=0; ray start'"]],
    ['script in args, shell in command', ['/bin/sh', '-ec', 'env -u RAY_USE_TLS ray start']],
    ['env NAME=value in exec form', ['env', 'RAY_USE_TLS=0', 'ray', 'start']],
    ['env -u in exec form', ['/usr/bin/env', '-u', 'RAY_USE_TLS', 'ray', 'start']],
    ['env --unset=', ['env', '--unset=RAY_TLS_CA_CERT', 'ray', 'start']],
    ['env -i', ['env', '-i', 'ray', 'start']],
    ['env -', sh('exec env - PATH=/bin ray start')],
    ['exec -c', ['bash', '-c', 'exec -c ray start --head']],
    ['sudo', sh('sudo -u ray ray start --head')],
    ['su -c', sh('su ray -c "ray start --head"')],
    ['setpriv --reset-env', ['setpriv', '--reuid=1000', '--reset-env', 'ray', 'start']],
    ['python os.environ', ['python', '-c', "import os; os.environ['RAY_USE_TLS'] = '0'; import ray"]],
    ['python, the name in two pieces', ['python', '-c', "import os; del os.environ['RAY_' + 'USE_TLS']"]],
    ['$(...) command substitution', sh('$(printf "unset RAY_USE_TLS"); ray start')],
    ['an ANSI-C quoted name', ['bash', '-c', "unset $'\\x52AY_USE_TLS'; ray start"]],
    ['a name in octal escapes', sh('eval "$(printf \'\\122AY_USE_TLS=0\')"; ray start')],
  ])('%s', (_name, argv) => {
    expect(tlsEnvWrite(argv)).toBeDefined();
  });

  it.each([
    ['ray start in exec form', ['ray', 'start', '--head', '--block']],
    [
      'reads of the TLS env',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: shell text, not a template
      sh('echo "$RAY_USE_TLS" ${RAY_TLS_CA_CERT} ${RAY_USE_TLS:-0} ${#RAY_TLS_SERVER_KEY}; ray start'),
    ],
    ['a kubelet expansion', ['ray', 'start', '--node-name=$(RAY_TLS_POD_IP)']],
    [
      'the pod-dns wrapper ray-tls writes',
      [
        'sh',
        '-c',
        'exec "$@" --node-ip-address="$(echo "$RAY_TLS_POD_IP" | tr .: --).$RAY_TLS_POD_NAMESPACE.pod.cluster.local"',
        'ray-tls',
        'ray',
        'start',
      ],
    ],
    ['other RAY_ variables', sh('export RAY_memory_monitor_refresh_ms=0 RAY_ADDRESS=ray://h:10001; ray start')],
    ['env with other options', ['env', 'A=1', 'ray', 'start']],
    ['a word that only starts like a runner', sh('sudoku; suspend_check; ray start')],
    ['exec without -c', sh('exec -a raylet ray start')],
  ])('leaves alone: %s', (_name, argv) => {
    expect(tlsEnvWrite(argv)).toBeUndefined();
  });
});

describe('findRayStart reads runner options that take a value', () => {
  it.each([
    [['env', '-u', 'RAY_USE_TLS', 'ray', 'start', '--head']],
    [['env', '-C', '/tmp', 'ray', 'start']],
    [['tini', '-e', '143', '--', 'ray', 'start']],
    [sh('env -u HOME ray start --head')],
  ])('%j runs ray start', (argv) => {
    expect(findRayStart(argv, undefined)).toBeDefined();
  });
});

/** One Ray head Deployment, no config: the function's defaults (per-pod). */
const HEAD_ONLY = `apiVersion: config.kubernetes.io/v1
kind: ResourceList
items:
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: ray-head, namespace: ray}
  spec:
    template:
      spec:
        containers: [{name: ray-head, image: "rayproject/ray:2.58.0", args: [ray, start, --head]}]
`;

describe('perPod.validateNode: the init container sets the leaf lifetime and key', () => {
  const rendered = (parse(run(HEAD_ONLY).stdout).items as Resource[]).filter((r) => r.kind === 'Deployment');
  const node = (env: Record<string, string>) => {
    const resources = structuredClone(rendered);
    const init = (resources[0] as unknown as { spec: { template: { spec: { initContainers: JsonMap[] } } } }).spec
      .template.spec.initContainers[0];
    for (const e of init.env as JsonMap[]) if (typeof e.name === 'string' && e.name in env) e.value = env[e.name];
    const { pods } = findRayPods(
      resources.map((resource) => ({ resource, source: undefined })),
      {},
    );
    expect(perPod.recognises(pods[0])).toBe(true);
    return perPod.validateNode(pods[0], pods[0].resource);
  };

  it('the rendered defaults (365 days, RSA 4096) pass', () => {
    expect(node({})).toEqual([]);
  });

  it.each([
    ['366 days', { CERT_DAYS: '366' }, /per-pod certificates valid for 366 days \(over one year\): lower duration/],
    ['ten years', { CERT_DAYS: '3650' }, /valid for 3650 days/],
  ])('a leaf lifetime over a year (%s) is an error', (_name, env, message) => {
    const results = node(env);
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({
      severity: 'error',
      resourceRef: { kind: 'Deployment', name: 'ray-head' },
      field: { path: 'spec.template.spec.initContainers' },
    });
    expect(results[0].message).toMatch(message);
  });

  it.each([['1024'], ['2047'], ['512']])('RSA %s bits is an error', (bits) => {
    const results = node({ CERT_KEY_SIZE: bits });
    expect(results.map((r) => r.message)).toEqual([`per-pod RSA keys of ${bits} bits are too weak: use 2048 or more`]);
  });

  it('RSA 2048 and ECDSA 256 pass; both problems at once are two errors', () => {
    expect(node({ CERT_KEY_SIZE: '2048' })).toEqual([]);
    expect(node({ CERT_KEY_ALGORITHM: 'ECDSA', CERT_KEY_SIZE: '256' })).toEqual([]);
    expect(node({ CERT_DAYS: '400', CERT_KEY_SIZE: '1024' })).toHaveLength(2);
  });

  it('the validator reports them too, besides the init container that differs from the config', () => {
    const list = parse(run(HEAD_ONLY).stdout);
    const init = list.items[0].spec.template.spec.initContainers[0];
    init.env.find((e: JsonMap) => e.name === 'CERT_KEY_SIZE').value = '1024';
    const out = run(JSON.stringify(list), undefined, true);
    expect(out.exitCode).toBe(1);
    expect(out.stderr.some((l) => l.includes('per-pod RSA keys of 1024 bits are too weak'))).toBe(true);
    expect(out.stderr.some((l) => l.includes('init container ray-tls-init differs from what ray-tls emits'))).toBe(
      true,
    );
  });
});

describe('the reference render reads back a list the decoder parses whole', () => {
  // `&x` after a space looks like a YAML anchor to the decoder's line scan: it parses the list whole.
  const input = `apiVersion: config.kubernetes.io/v1
kind: ResourceList
items:
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: ray-head, namespace: ray}
  spec:
    template:
      spec:
        containers:
        - {name: ray-head, image: "rayproject/ray:2.58.0", command: [sh, -c, "sleep 1 &wait; ray start --head"]}
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: ray-worker, namespace: ray}
  spec:
    template:
      spec:
        containers: [{name: ray-worker, image: "rayproject/ray:2.58.0", args: [ray, start, "--address=h:6379"]}]
`;

  it('its own output passes, and a changed init script in either pod fails', () => {
    const rendered = run(input).stdout;
    expect(run(rendered, undefined, true).exitCode).toBe(0);
    for (const name of ['ray-head', 'ray-worker']) {
      const list = parse(rendered);
      const spec = list.items.find((i: JsonMap & { metadata: JsonMap }) => i.metadata.name === name).spec.template.spec;
      spec.initContainers[0].command[2] += '\ncp "$CA_DIR/tls.key" "$CERT_DIR/"';
      const out = run(JSON.stringify(list), undefined, true);
      expect(out.stderr.some((l) => l.includes(`${name} spec.template.spec.initContainers[0].command`))).toBe(true);
    }
  });
});

describe('checkPod holds each container to what ray-tls renders for it', () => {
  const rendered = parse(
    run(`apiVersion: config.kubernetes.io/v1
kind: ResourceList
items:
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: ray-head, namespace: ray}
  spec:
    template:
      metadata: {annotations: {ray-tls.io/ray-containers: shipper}}
      spec:
        containers:
        - {name: ray-head, image: "rayproject/ray:2.58.0", args: [ray, start, --head]}
        - {name: shipper, image: "fluent/fluent-bit:3.0"}
`).stdout,
  ).items[0] as Resource;
  const ref = podTemplates(rendered)[0];
  const withoutTls = (r: Resource) => {
    const copy = structuredClone(r) as unknown as { spec: { template: { spec: { containers: JsonMap[] } } } };
    const shipper = copy.spec.template.spec.containers[1];
    shipper.env = [];
    shipper.volumeMounts = [];
    return copy as unknown as Resource;
  };
  const check = (resource: Resource, expected: Resource) =>
    checkPod({
      resource,
      ref,
      pod: podView(resource, ref),
      role: 'node',
      expected: getIn(expected as unknown as JsonMap, ref.path) as JsonMap,
      own: new Set(),
      cas: new Set(['ray-tls-ca']),
      mountPath: '/etc/ray/tls',
    }).filter((r) => !r.message.includes('ray-tls-init'));

  it('a sidecar the render leaves alone needs no TLS; one the render gives TLS does', () => {
    const bare = withoutTls(rendered);
    expect(check(bare, bare)).toEqual([]);
    expect(check(bare, rendered).map((r) => r.message)).toEqual([
      'Ray node container shipper lacks TLS: RAY_USE_TLS, RAY_TLS_SERVER_CERT, RAY_TLS_SERVER_KEY, RAY_TLS_CA_CERT ' +
        'not set (run ray-tls over it)',
    ]);
  });

  it('a TLS variable a container sets is judged even where the render sets none', () => {
    const bare = withoutTls(rendered);
    const off = structuredClone(bare) as unknown as { spec: { template: { spec: { containers: JsonMap[] } } } };
    off.spec.template.spec.containers[1].env = [{ name: 'RAY_USE_TLS', value: '0' }];
    expect(check(off as unknown as Resource, bare).map((r) => r.field?.path)).toEqual([
      'spec.template.spec.containers[1].env[0].value',
    ]);
  });

  it('every container needs TLS when there is no render to ask', () => {
    const bare = withoutTls(rendered);
    const messages = checkPod({
      resource: bare,
      ref,
      pod: podView(bare, ref),
      role: 'node',
      own: new Set(),
      cas: new Set(),
      mountPath: '/etc/ray/tls',
    }).map((r) => r.message);
    expect(messages.some((m) => m.startsWith('Ray node container shipper lacks TLS'))).toBe(true);
  });
});
