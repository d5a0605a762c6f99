// A mode is one module: the test-only CSI mode (test/modes/csi.ts), registered with one line,
// goes through the config, --help, the pod edits, the trust bundle and the validator.
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { helpText } from '../../src/cli/help.js';
import { readConfig } from '../../src/config/config.js';
import { run } from '../../src/function/run.js';
import { registerMode } from '../../src/tls/modes/index.js';
import { csi, DRIVER } from '../modes/csi.js';

type Obj = Record<string, any>;

const CLUSTER = `- apiVersion: ray.io/v1
  kind: RayCluster
  metadata: {name: demo, namespace: ray}
  spec:
    headGroupSpec:
      rayStartParams: {}
      template:
        spec:
          containers:
          - name: ray-head
            image: rayproject/ray:2.58.0
    workerGroupSpecs:
    - groupName: cpu
      rayStartParams: {}
      template:
        spec:
          containers:
          - name: ray-worker
            image: rayproject/ray:2.58.0
`;
const list = (data: string) =>
  `apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n${CLUSTER}functionConfig:\n` +
  `  apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: tls}\n  data:\n    mode: csi\n${data}`;
const head = (out: { stdout: string }) => (parse(out.stdout) as Obj).items[0].spec.headGroupSpec.template;

describe('a mode registered from a test', () => {
  it('is unknown to the config before it is registered, and known after', () => {
    expect(() => readConfig({ kind: 'ConfigMap', data: { mode: 'csi' } })).toThrow(
      /"csi" is not a mode; use per-pod .*, pod-dns .* or shared/,
    );
    registerMode(csi);
    expect(readConfig({ kind: 'ConfigMap', data: { mode: 'csi' } }).mode).toBe('csi');
    expect(() => readConfig({ kind: 'ConfigMap', data: { mode: 'nope' } })).toThrow(
      /or csi \(test only: a CSI driver issues each node/,
    );
  });

  it('shows up in --help with its own line', () => {
    registerMode(csi);
    expect(helpText()).toContain('\n                    csi       test only: a CSI driver mounts each Ray node pod');
  });

  it('renders node pods: its volume, with the Services the survey found, the TLS env, the marker', () => {
    registerMode(csi);
    const out = run(list(''));
    expect(out.exitCode).toBe(0);
    const pod = head(out);
    expect(pod.spec.volumes).toEqual([
      {
        name: 'ray-tls',
        csi: {
          driver: DRIVER,
          readOnly: true,
          volumeAttributes: { issuer: 'ray-tls-ca', dnsNames: 'demo-head-svc' },
        },
      },
    ]);
    expect(pod.spec.containers[0].volumeMounts).toEqual([
      { name: 'ray-tls', mountPath: '/etc/ray/tls', readOnly: true },
    ]);
    expect(pod.spec.containers[0].env.map((e: Obj) => e.name)).toEqual([
      'RAY_USE_TLS',
      'RAY_TLS_SERVER_CERT',
      'RAY_TLS_SERVER_KEY',
      'RAY_TLS_CA_CERT',
    ]);
    expect(pod.metadata.annotations['ray-tls.io/injected']).toBe('csi/node');
    expect(out.results.map((r) => r.message)).toContain(
      'headGroupSpec: Ray node (KubeRay head group); a CSI driver mounts its certificate at /etc/ray/tls; the TLS ' +
        'env and files go to ray-head',
    );
  });

  it('its own config rule: it needs cert-manager', () => {
    registerMode(csi);
    const out = run(list('    certManager: "false"\n'));
    expect(out.exitCode).toBe(1);
    expect(out.stderr[0]).toBe(
      'error: invalid function config: functionConfig.data.certManager: mode csi needs cert-manager: set it to true',
    );
  });

  it('ca.trust: refused by the config, since its read-only volume takes no trust bundle', () => {
    registerMode(csi);
    const out = run(list('    ca.trust: old-ca\n'));
    expect(out.exitCode).toBe(1);
    expect(out.stdout).not.toContain('ray-tls-trust');
    expect(out.stderr[0]).toBe(
      'error: invalid function config: functionConfig.data.ca.trust: mode csi gives Ray nodes a read-only ' +
        'certificate volume that no init container can add trusted CAs to; remove ca.trust, or use a mode that ' +
        'can (per-pod, pod-dns, shared)',
    );
  });

  it('the validator asks it: a pod it rendered passes, a writable volume fails, a stray init container fails', () => {
    registerMode(csi);
    const rendered = run(list('')).stdout;
    const validated = run(rendered, undefined, true);
    expect(validated.results.at(-1)?.message).toBe('ray-tls validate: 0 problem(s)');
    const writable = run(
      rendered.replace(/readOnly: true(\n +volumeAttributes)/, 'readOnly: false$1'),
      undefined,
      true,
    );
    expect(writable.stderr).toContain(
      'error: RayCluster ray/demo: headGroupSpec: the CSI certificate volume is writable: set readOnly: true',
    );
    // The trap of a trust init container in a pod whose certificate volume is read-only.
    const stray =
      '          initContainers:\n          - name: ray-tls-trust\n            image: busybox\n' +
      '            volumeMounts:\n            - {name: ray-tls, mountPath: /etc/ray/tls}\n' +
      '            - {name: ray-tls-secret, mountPath: /etc/ray/tls-secret, readOnly: true}\n';
    const trapped = run(
      rendered.replace('          containers:\n', `${stray}          containers:\n`),
      undefined,
      true,
    );
    const where = (i: number) =>
      `error: RayCluster ray/demo spec.headGroupSpec.template.spec.initContainers[0].volumeMounts[${i}]: `;
    // Among the validator's other errors about a look-alike init container (it is not what ray-tls emits).
    expect(trapped.stderr).toEqual(
      expect.arrayContaining([
        `${where(0)}ray-tls's init container ray-tls-trust mounts volume ray-tls to write into it, and it is ` +
          'read-only: the pod cannot start',
        `${where(1)}ray-tls's init container ray-tls-trust mounts volume ray-tls-secret, which the pod lacks: ` +
          'the pod cannot start',
      ]),
    );
  });
});
