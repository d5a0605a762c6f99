// The validator as a gate. Every case starts from the function's own output (a fixture
// rendered through run()), changes one thing the way someone getting around TLS would, and
// expects a one-line error naming the resource, the container and the field. One class of
// bypass per group, several variants each. (validateClean.test.ts: no false alarms.)
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { FIXTURE, type Obj, problems, render, validate } from '../support/validator.js';

// ---- Mutations of a rendered list -------------------------------------------------------

interface List {
  items: Obj[];
}

const item = (l: List, kind: string, name: string): Obj =>
  l.items.find((i) => i.kind === kind && i.metadata.name === name) ?? expect.fail(`${kind}/${name} not in the list`);
const deploymentSpec = (l: List, name: string): Obj => item(l, 'Deployment', name).spec.template.spec;
const headSpec = (l: List): Obj => item(l, 'RayCluster', 'rc').spec.headGroupSpec.template.spec;
const workerSpec = (l: List): Obj => item(l, 'RayCluster', 'rc').spec.workerGroupSpecs[0].template.spec;
const container = (spec: Obj, name: string): Obj =>
  [...spec.containers, ...(spec.initContainers ?? [])].find((c: Obj) => c.name === name) ??
  expect.fail(`container ${name} missing`);
const setEnv = (c: Obj, name: string, entry: Obj) => {
  const at = c.env.findIndex((e: Obj) => e.name === name);
  c.env[at] = { name, ...entry };
};
const script = (c: Obj) => c.command.length - 1; // sh -c SCRIPT: the script is last

type Mutation = (l: List) => void;

/** A bypass case: the config to render with, the change, and what the error must say. */
interface Case {
  config?: Obj;
  change: Mutation;
  error: RegExp;
}

const plaintextRay = (name: string): Obj => ({
  name,
  image: 'rayproject/ray:2.58.0',
  args: ['ray', 'start', '--head'],
});

const BYPASSES: Record<string, Record<string, Case>> = {
  'an opt-out annotation on a plaintext Ray pod': {
    'ray-tls.io/skip on the resource, TLS env gone': {
      change: (l) => {
        const d = item(l, 'Deployment', 'ray-head');
        d.metadata.annotations = { 'ray-tls.io/skip': 'true' };
        for (const c of d.spec.template.spec.containers) c.env = [];
      },
      error:
        /Deployment ray\/ray-head .*containers\[0\]\.env: Ray node container ray-head lacks TLS.*ray-tls\.io\/skip/,
    },
    'ray-tls.io/role: none on the pod template, RAY_USE_TLS=0': {
      change: (l) => {
        const d = item(l, 'Deployment', 'ray-head');
        d.spec.template.metadata.annotations['ray-tls.io/role'] = 'none';
        setEnv(d.spec.template.spec.containers[0], 'RAY_USE_TLS', { value: '0' });
      },
      error: /ray-head .*env\[\d+\]\.value: .*RAY_USE_TLS=0: TLS is off.*ray-tls\.io\/role: none/,
    },
    'ray-tls.io/skip on a KubeRay RayCluster whose worker has no TLS': {
      change: (l) => {
        const rc = item(l, 'RayCluster', 'rc');
        rc.metadata.annotations = { 'ray-tls.io/skip': 'true' };
        workerSpec(l).containers[0].env = [];
      },
      error: /RayCluster ray\/rc .*workerGroupSpecs\[0\]\.template\.spec\.containers\[0\]\.env: .*lacks TLS.*skip/,
    },
  },
  'a look-alike of ray-tls own init containers': {
    'a plaintext Ray container named ray-tls-init': {
      change: (l) => {
        deploymentSpec(l, 'ray-head').containers[0] = plaintextRay('ray-tls-init');
      },
      error: /ray-head .*containers\[0\]\.env: Ray node container ray-tls-init lacks TLS/,
    },
    'a plaintext Ray init container named ray-tls-trust (mode pod-dns)': {
      config: { mode: 'pod-dns' },
      change: (l) => {
        deploymentSpec(l, 'ray-head').initContainers = [plaintextRay('ray-tls-trust')];
      },
      error: /initContainers\[0\].* ray-tls-trust (lacks TLS|is not one ray-tls emits)/,
    },
    'an init container named ray-tls-init that mounts the CA, in a pod-dns pod': {
      config: { mode: 'pod-dns' },
      change: (l) => {
        const spec = deploymentSpec(l, 'ray-head');
        spec.volumes.push({ name: 'ca', secret: { secretName: 'ray-tls-ca' } });
        spec.initContainers = [
          {
            name: 'ray-tls-init',
            image: 'busybox',
            command: ['true'],
            volumeMounts: [{ name: 'ca', mountPath: '/ca' }],
          },
        ];
      },
      error: /initContainers\[0\]\.volumeMounts\[0\]: .*ray-tls-init mounts the key of CA Secret ray-tls-ca/,
    },
  },
  'a tampered ray-tls init container': {
    'its script copies the CA key into the volume Ray mounts': {
      change: (l) => {
        const init = container(deploymentSpec(l, 'ray-head'), 'ray-tls-init');
        init.command[script(init)] += '\ncp "$CA_DIR/tls.key" "$CERT_DIR/ca.key"\n';
      },
      error: /initContainers\[0\]\.command: init container ray-tls-init differs from what ray-tls emits .*\(command\)/,
    },
    'its image is another one': {
      change: (l) => {
        container(headSpec(l), 'ray-tls-init').image = 'evil/ray:2.58.0';
      },
      error: /RayCluster ray\/rc .*initContainers\[0\]\.image: init container ray-tls-init differs .*\(image\)/,
    },
    'it runs privileged': {
      change: (l) => {
        container(deploymentSpec(l, 'ray-worker'), 'ray-tls-init').securityContext.privileged = true;
      },
      error: /ray-worker .*initContainers\[0\]\.securityContext: .*differs .*\(securityContext\)/,
    },
    'it mounts one more volume': {
      change: (l) => {
        container(deploymentSpec(l, 'ray-head'), 'ray-tls-init').volumeMounts.push({ name: 'dump', mountPath: '/d' });
      },
      error: /initContainers\[0\]\.volumeMounts: .*ray-tls-init differs .*\(volumeMounts\)/,
    },
    'its CERT_DIR points elsewhere': {
      change: (l) => {
        setEnv(container(deploymentSpec(l, 'ray-head'), 'ray-tls-init'), 'CERT_DIR', { value: '/tmp' });
      },
      error: /initContainers\[0\]\.env: .*ray-tls-init differs .*\(env\)/,
    },
    'the trust container of a pod-dns pod copies another CA': {
      config: { mode: 'pod-dns', ca: { trust: ['old-ca'] } },
      change: (l) => {
        const trust = container(deploymentSpec(l, 'ray-head'), 'ray-tls-trust');
        trust.command[script(trust)] = 'cp /etc/ssl/certs/ca-certificates.crt "$CERT_DIR/ca.crt"';
      },
      error: /initContainers\[0\]\.command: init container ray-tls-trust differs/,
    },
    'the RayService head init container runs a shell first': {
      change: (l) => {
        const spec = item(l, 'RayService', 'rs').spec.rayClusterConfig.headGroupSpec.template.spec;
        container(spec, 'ray-tls-init').command = ['sh', '-c', 'cat /etc/ray/tls-ca/tls.key; sleep 1'];
      },
      error: /RayService ray\/rs .*initContainers\[0\]\.command: init container ray-tls-init differs/,
    },
    "a client's trust container (ca.trust) gets another Secret": {
      config: { ca: { trust: ['old-ca'] } },
      change: (l) => {
        const v = deploymentSpec(l, 'app').volumes.find((x: Obj) => x.name === 'ray-tls-secret');
        v.secret.secretName = 'ray-tls-ca';
      },
      error: /Deployment ray\/app .*volume ray-tls-secret is not what ray-tls emits/,
    },
    'the certificate volume is a hostPath': {
      change: (l) => {
        const spec = deploymentSpec(l, 'ray-head');
        spec.volumes.find((v: Obj) => v.name === 'ray-tls').emptyDir = undefined;
        spec.volumes.find((v: Obj) => v.name === 'ray-tls').hostPath = { path: '/var/ray-tls' };
      },
      error: /spec\.volumes\[\d+\]: volume ray-tls is not what ray-tls emits/,
    },
    'the CA volume exposes every key of another Secret': {
      change: (l) => {
        const v = deploymentSpec(l, 'ray-head').volumes.find((x: Obj) => x.name === 'ray-tls-ca');
        v.secret = { secretName: 'other-ca' };
      },
      error: /volume ray-tls-ca is not what ray-tls emits/,
    },
  },
  'the CA key reaching another container': {
    'a projected volume in the Ray container': {
      change: (l) => {
        const spec = deploymentSpec(l, 'ray-head');
        spec.volumes.push({ name: 'p', projected: { sources: [{ secret: { name: 'ray-tls-ca' } }] } });
        spec.containers[0].volumeMounts.push({ name: 'p', mountPath: '/p', readOnly: true });
      },
      error: /containers\[0\]\.volumeMounts\[\d+\]: Ray node container ray-head mounts the key of CA Secret ray-tls-ca/,
    },
    'a projected volume with the key only, in a sidecar': {
      change: (l) => {
        const spec = deploymentSpec(l, 'ray-head');
        const items = [{ key: 'tls.key', path: 'k' }];
        spec.volumes.push({ name: 'p', projected: { sources: [{ secret: { name: 'ray-tls-ca', items } }] } });
        spec.containers[1].volumeMounts.push({ name: 'p', mountPath: '/p', readOnly: true });
      },
      error: /containers\[1\]\.volumeMounts\[\d+\]: .*log-shipper mounts the key of CA Secret ray-tls-ca/,
    },
    'the Ray container mounts the ray-tls-ca volume itself': {
      change: (l) => {
        const c = deploymentSpec(l, 'ray-worker').containers[0];
        c.volumeMounts.push({ name: 'ray-tls-ca', mountPath: '/ca', readOnly: true });
      },
      error: /ray-worker .*containers\[0\]\.volumeMounts\[\d+\]: .*mounts the key of CA Secret ray-tls-ca/,
    },
    'an env secretKeyRef to tls.key': {
      change: (l) => {
        const ref = { secretKeyRef: { name: 'ray-tls-ca', key: 'tls.key' } };
        headSpec(l).containers[0].env.push({ name: 'K', valueFrom: ref });
      },
      error:
        /RayCluster ray\/rc .*containers\[0\]\.env\[\d+\]\.valueFrom: .*reads key tls\.key of CA Secret ray-tls-ca/,
    },
    'the KubeRay autoscaler mounts the CA volume through autoscalerOptions': {
      change: (l) => {
        const options = item(l, 'RayCluster', 'rc').spec.autoscalerOptions;
        options.volumeMounts.push({ name: 'ray-tls-ca', mountPath: '/ca', readOnly: true });
      },
      error: /RayCluster ray\/rc spec\.autoscalerOptions\.volumeMounts\[1\]: .*\(autoscalerOptions\) mounts the key/,
    },
    'envFrom the CA Secret in a client': {
      change: (l) => {
        deploymentSpec(l, 'app').containers[0].envFrom = [{ secretRef: { name: 'ray-tls-ca' } }];
      },
      error:
        /Deployment ray\/app .*containers\[0\]\.envFrom\[0\]: Ray client container app takes every key of CA Secret/,
    },
    'a ca.trust CA Secret mounted whole in a worker': {
      config: { ca: { trust: ['old-ca'] } },
      change: (l) => {
        const spec = workerSpec(l);
        spec.volumes.push({ name: 'old', secret: { secretName: 'old-ca' } });
        spec.containers[0].volumeMounts.push({ name: 'old', mountPath: '/old', readOnly: true });
      },
      error: /workerGroupSpecs\[0\].*volumeMounts\[\d+\]: .*mounts the key of CA Secret old-ca/,
    },
    'a CA Secret of ca.secretName in a pod that is not Ray': {
      config: { ca: { secretName: 'corp-ca' } },
      change: (l) => {
        l.items.push({
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: { name: 'debug', namespace: 'ray' },
          spec: {
            template: {
              spec: {
                containers: [{ name: 'sh', image: 'busybox', envFrom: [{ secretRef: { name: 'corp-ca' } }] }],
              },
            },
          },
        });
      },
      error: /Deployment ray\/debug .*containers\[0\]\.envFrom\[0\]: container sh takes every key of CA Secret corp-ca/,
    },
  },
  'RAY_USE_TLS not a literal 1': {
    'from valueFrom': {
      change: (l) => {
        const from = { configMapKeyRef: { name: 'flags', key: 'tls' } };
        setEnv(deploymentSpec(l, 'ray-head').containers[0], 'RAY_USE_TLS', { valueFrom: from });
      },
      error: /containers\[0\]\.env\[\d+\]\.valueFrom: Ray node container ray-head takes RAY_USE_TLS from valueFrom/,
    },
    'a later duplicate RAY_USE_TLS=0': {
      change: (l) => {
        workerSpec(l).containers[0].env.push({ name: 'RAY_USE_TLS', value: '0' });
      },
      error: /workerGroupSpecs\[0\].*env\[\d+\]\.value: Ray node container ray-worker sets RAY_USE_TLS=0: TLS is off/,
    },
    'a kubelet expansion $(FLAG)': {
      change: (l) => {
        setEnv(deploymentSpec(l, 'app').containers[0], 'RAY_USE_TLS', { value: '$(FLAG)' });
      },
      error: /Ray client container app sets RAY_USE_TLS=\$\(FLAG\): TLS is off/,
    },
    'RAY_USE_TLS=False for the KubeRay autoscaler': {
      change: (l) => {
        setEnv(item(l, 'RayCluster', 'rc').spec.autoscalerOptions, 'RAY_USE_TLS', { value: 'False' });
      },
      error: /spec\.autoscalerOptions\.env\[0\]\.value: .*autoscaler \(autoscalerOptions\) sets RAY_USE_TLS=False/,
    },
    'a RayJob submitter without TLS': {
      change: (l) => {
        item(l, 'RayJob', 'rj').spec.submitterPodTemplate.spec.containers[0].env = [];
      },
      error:
        /RayJob ray\/rj spec\.submitterPodTemplate\.spec\.containers\[0\]\.env: Ray client container submitter lacks/,
    },
    'RAY_USE_TLS removed from a sidecar': {
      change: (l) => {
        const c = deploymentSpec(l, 'ray-head').containers[1];
        c.env = c.env.filter((e: Obj) => e.name !== 'RAY_USE_TLS');
      },
      error: /containers\[1\]\.env: Ray node container log-shipper lacks TLS: RAY_USE_TLS not set/,
    },
  },
  'the shell changes the TLS env': {
    'sh -c with RAY_USE_TLS=0 exec ray start': {
      change: (l) => {
        deploymentSpec(l, 'ray-head').containers[0].args = ['sh', '-c', 'RAY_USE_TLS=0 exec ray start --head --block'];
      },
      error: /containers\[0\]\.args: Ray node container ray-head changes the TLS environment in its command/,
    },
    'unset RAY_USE_TLS; ray start': {
      change: (l) => {
        const c = deploymentSpec(l, 'ray-worker').containers[0];
        c.command[2] = `unset RAY_USE_TLS; ${c.command[2]}`;
      },
      error: /ray-worker .*changes the TLS environment in its command: RAY_USE_TLS/,
    },
    'export RAY_TLS_CA_CERT after && on a new line': {
      change: (l) => {
        const c = deploymentSpec(l, 'ray-worker').containers[0];
        c.command[2] = `true &&\n  export RAY_TLS_CA_CERT=/etc/ssl/certs/ca-certificates.crt\n${c.command[2]}`;
      },
      error: /changes the TLS environment in its command: RAY_TLS_CA_CERT/,
    },
    'env -u RAY_USE_TLS in exec form': {
      change: (l) => {
        const c = deploymentSpec(l, 'ray-head').containers[0];
        c.args = ['env', '-u', 'RAY_USE_TLS', ...c.args];
      },
      error: /changes the TLS environment in its command: RAY_USE_TLS/,
    },
    'env -i clears the environment': {
      change: (l) => {
        const c = deploymentSpec(l, 'ray-head').containers[0];
        c.args = ['env', '-i', 'PATH=/usr/bin', ...c.args];
      },
      error: /changes the TLS environment in its command: env -i \(Ray would start without the pod's environment\)/,
    },
    'a nested bash -c with a quoted name': {
      change: (l) => {
        headSpec(l).containers[0].command = ['sh', '-lc', `bash -c 'declare -x "RAY_US""E_TLS"=0; ray start --head'`];
      },
      error: /RayCluster ray\/rc .*headGroupSpec.*containers\[0\]\.command: .*changes the TLS environment/,
    },
    'a RayJob entrypoint is not a pod: the submitter command is': {
      change: (l) => {
        const c = item(l, 'RayJob', 'rj').spec.submitterPodTemplate.spec.containers[0];
        c.command = ['bash', '-c', 'export RAY_USE_TLS=0\nray job submit -- python x.py'];
      },
      error: /RayJob ray\/rj .*submitter changes the TLS environment in its command: RAY_USE_TLS/,
    },
    'a RayJob entrypoint that unsets it': {
      change: (l) => {
        item(l, 'RayJob', 'rj').spec.entrypoint = 'unset RAY_USE_TLS && python -c "import ray; ray.init()"';
      },
      error: /RayJob ray\/rj spec\.entrypoint: entrypoint changes the TLS environment in the shell KubeRay runs/,
    },
    'a KubeRay rayStartParams value that runs shell': {
      change: (l) => {
        item(l, 'RayCluster', 'rc').spec.workerGroupSpecs[0].rayStartParams.block = 'true; unset RAY_USE_TLS';
      },
      error: /workerGroupSpecs\[0\]\.rayStartParams\.block: .*changes the TLS environment in the shell KubeRay runs/,
    },
  },
  'the certificate files from elsewhere': {
    'RAY_TLS_CA_CERT at the system trust store': {
      change: (l) => {
        setEnv(deploymentSpec(l, 'ray-head').containers[0], 'RAY_TLS_CA_CERT', {
          value: '/etc/ssl/certs/ca-certificates.crt',
        });
      },
      error: /\.value: Ray node container ray-head reads RAY_TLS_CA_CERT from outside a read-only mount .*\/etc\/ssl/,
    },
    'RAY_TLS_CA_CERT through .. out of the mount': {
      change: (l) => {
        setEnv(deploymentSpec(l, 'app').containers[0], 'RAY_TLS_CA_CERT', { value: '/etc/ray/tls/../ca.crt' });
      },
      error: /Ray client container app reads RAY_TLS_CA_CERT from outside a read-only mount of the ray-tls volume/,
    },
    'a writable emptyDir mounted over the CA file': {
      change: (l) => {
        const spec = deploymentSpec(l, 'ray-head');
        spec.volumes.push({ name: 'mine', emptyDir: {} });
        spec.containers[0].volumeMounts.push({ name: 'mine', mountPath: '/etc/ray/tls/ca.crt', subPath: 'ca.crt' });
      },
      error: /ray-head reads RAY_TLS_CA_CERT from outside .*volume mine is mounted at \/etc\/ray\/tls\/ca\.crt/,
    },
    'RAY_TLS_SERVER_KEY from valueFrom': {
      change: (l) => {
        const from = { secretKeyRef: { name: 'ray-tls-nodes', key: 'tls.key' } };
        setEnv(deploymentSpec(l, 'ray-head').containers[0], 'RAY_TLS_SERVER_KEY', { valueFrom: from });
      },
      error: /takes RAY_TLS_SERVER_KEY from valueFrom/,
    },
    'the Ray mount made writable': {
      change: (l) => {
        const m = workerSpec(l).containers[0].volumeMounts.find((x: Obj) => x.name === 'ray-tls');
        m.readOnly = false;
      },
      error: /volumeMounts\[\d+\]\.readOnly: container ray-worker mounts the ray-tls volume writable/,
    },
    'a second writable mount of the certificate volume': {
      change: (l) => {
        deploymentSpec(l, 'ray-head').containers[1].volumeMounts.push({ name: 'ray-tls', mountPath: '/w' });
      },
      error: /containers\[1\]\.volumeMounts\[\d+\]\.readOnly: container log-shipper mounts the ray-tls volume writable/,
    },
    'a user init container that writes the certificate volume': {
      change: (l) => {
        const spec = deploymentSpec(l, 'ray-worker');
        spec.initContainers.push({
          name: 'seed',
          image: 'busybox',
          command: ['sh', '-c', 'cp /evil/ca.crt /etc/ray/tls/ca.crt'],
          volumeMounts: [{ name: 'ray-tls', mountPath: '/etc/ray/tls' }],
        });
      },
      error: /initContainers\[1\]\.volumeMounts\[0\]\.readOnly: container seed mounts the ray-tls volume writable/,
    },
  },
};

const CASES = Object.entries(BYPASSES).flatMap(([bypass, cases]) =>
  Object.entries(cases).map(([variant, c]) => [bypass, variant, c] as const),
);

describe('every bypass class fails validation with a one-line error', () => {
  const renders = new Map<string, string>();
  const rendered = (config: Obj = {}) => {
    const key = JSON.stringify(config);
    if (!renders.has(key)) renders.set(key, render(FIXTURE, config));
    return renders.get(key)!;
  };

  it.each(CASES)('%s: %s', (_bypass, _variant, c) => {
    const own = rendered(c.config);
    expect(problems(validate(own).results)).toEqual([]); // the start is clean
    const list = parse(own) as List;
    c.change(list);
    const out = validate(stringify(list));
    expect(out.exitCode).toBe(1);
    const errors = out.stderr.filter((l) => l.startsWith('error:') && !l.includes('problem(s)'));
    expect(
      errors.find((e) => c.error.test(e)),
      errors.join('\n'),
    ).toBeDefined();
    for (const e of problems(out.results)) {
      expect(e.message).not.toContain('\n');
      expect(e.field?.path).toBeTruthy();
    }
  });
});
