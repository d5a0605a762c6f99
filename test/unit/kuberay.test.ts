// KubeRay for real (issue 24): token auth through authOptions, KubeRay's own start forms in
// pod-dns, a foreign node-ip-address in per-pod, Services on KubeRay's run-time labels, and Ray
// in kinds ray-tls does not know. Inputs as the issue quotes them.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseTokenArgs, TOKEN_HELP } from '../../src/cli/token.js';
import { run } from '../../src/function/run.js';
import { resourceList } from '../support/emitted.js';

type Obj = Record<string, any>;

const render = (items: Obj[], spec?: Obj) => {
  const out = run(resourceList(items, spec));
  const parsed = (out.stdout ? parse(out.stdout) : {}) as Obj;
  return { ...out, items: (parsed.items ?? []) as Obj[] };
};
const messages = (r: { results: { severity: string; message: string }[] }, severity: string) =>
  r.results.filter((x) => x.severity === severity).map((x) => x.message);
const ray = (name: string, extra: Obj = {}): Obj => ({ name, image: 'rayproject/ray:2.58.0', ...extra });
const clusterSpec = (extra: Obj = {}): Obj => ({
  rayVersion: '2.58.0',
  headGroupSpec: { rayStartParams: {}, template: { spec: { containers: [ray('ray-head')] } } },
  workerGroupSpecs: [
    { groupName: 'workers', replicas: 1, rayStartParams: {}, template: { spec: { containers: [ray('ray-worker')] } } },
  ],
  ...extra,
});
const rayCluster = (name: string, spec: Obj = clusterSpec(), metadata: Obj = {}): Obj => ({
  apiVersion: 'ray.io/v1',
  kind: 'RayCluster',
  metadata: { name, namespace: 'ray', ...metadata },
  spec,
});
const rayJob: Obj = {
  apiVersion: 'ray.io/v1',
  kind: 'RayJob',
  metadata: { name: 'job', namespace: 'ray' },
  spec: {
    entrypoint: 'python main.py',
    rayClusterSpec: clusterSpec(),
    submitterPodTemplate: { spec: { restartPolicy: 'Never', containers: [ray('submitter')] } },
  },
};
const rayService: Obj = {
  apiVersion: 'ray.io/v1',
  kind: 'RayService',
  metadata: { name: 'serve', namespace: 'ray' },
  spec: { rayClusterConfig: clusterSpec() },
};

describe('token auth on KubeRay kinds: authOptions {mode: token, secretName}, no token env of ours', () => {
  it('RayCluster spec, RayJob spec.rayClusterSpec, RayService spec.rayClusterConfig get authOptions', () => {
    const r = render([rayCluster('rc'), rayJob, rayService], { auth: 'token' });
    expect(r.exitCode, r.stderr.join('\n')).toBe(0);
    const [rc, job, svc] = r.items;
    const want = { mode: 'token', secretName: 'ray-auth-token' };
    expect(rc.spec.authOptions).toEqual(want);
    expect(job.spec.rayClusterSpec.authOptions).toEqual(want);
    expect(svc.spec.rayClusterConfig.authOptions).toEqual(want);
    // The operator sets the token on the pods it starts (the submitter included): none of ours.
    expect(JSON.stringify(r.items)).not.toContain('RAY_AUTH');
    // Idempotent: a second run changes nothing and says nothing new.
    const again = render(r.items, { auth: 'token' });
    expect(again.items).toEqual(r.items);
    expect(again.exitCode).toBe(0);
  });

  it('an existing authOptions is left alone', () => {
    const own = rayCluster('rc', clusterSpec({ authOptions: { mode: 'token', secretName: 'theirs' } }));
    const r = render([own], { auth: 'token' });
    expect(r.items[0].spec.authOptions).toEqual({ mode: 'token', secretName: 'theirs' });
    expect(messages(r, 'info').some((m) => /authOptions is set: KubeRay does this cluster's token/.test(m))).toBe(true);
  });

  it("the default Secret key is KubeRay's auth_token; another key is an error for KubeRay kinds that says why", () => {
    const r = render([rayCluster('rc')], { auth: 'token', authSecret: { key: 'token' } });
    expect(r.exitCode).toBe(1);
    expect(messages(r, 'error')).toEqual([
      'authSecret.key is "token", but KubeRay reads the token of authOptions.secretName from key auth_token only; ' +
        'use key auth_token (the default) in the config and the Secret',
    ]);
    // A plain Deployment may use any key.
    const plain = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'head', namespace: 'ray' },
      spec: { template: { spec: { containers: [ray('h', { command: ['ray', 'start', '--head', '--block'] })] } } },
    };
    expect(render([plain], { auth: 'token', authSecret: { key: 'token' } }).exitCode).toBe(0);
  });

  it('a cluster without rayVersion, or older than 2.52.0, is an error naming rayVersion and the fix', () => {
    const { rayVersion: _, ...unversioned } = clusterSpec();
    for (const spec of [unversioned, clusterSpec({ rayVersion: '2.46.0' })]) {
      const r = render([rayCluster('rc', spec)], { auth: 'token' });
      expect(r.exitCode).toBe(1);
      const [error] = messages(r, 'error');
      expect(error).toMatch(/^rayVersion (is not set|is "2\.46\.0"): KubeRay accepts authOptions\.mode token only/);
      expect(error).toMatch(/set rayVersion to the image's Ray version \(and use Ray 2\.52\.0\+\), or auth: none$/);
    }
    expect(render([rayCluster('rc', clusterSpec({ rayVersion: '2.52.0' }))], { auth: 'token' }).exitCode).toBe(0);
  });

  it('ray-tls token makes the Secret with the auth_token key', () => {
    expect(TOKEN_HELP).toMatch(/--key KEY\s+the Secret's key \(default auth_token/);
    const o = parseTokenArgs(['--out', '/nonexistent/t']);
    expect(typeof o !== 'string' && o.key).toBe('auth_token');
  });
});

describe("Services on KubeRay's run-time labels name the pods KubeRay labels", () => {
  const service = (name: string, selector: Obj): Obj => ({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: 'ray' },
    spec: { type: 'LoadBalancer', selector, ports: [{ name: 'client', port: 10001 }] },
  });
  const certServices = (items: Obj[], path: 'head' | 'worker') => {
    const rc = items.find((i) => i.kind === 'RayCluster')!;
    const template = path === 'head' ? rc.spec.headGroupSpec.template : rc.spec.workerGroupSpecs[0].template;
    const init = template.spec.initContainers.find((c: Obj) => c.name === 'ray-tls-init');
    return init.env.find((e: Obj) => e.name === 'CERT_SERVICES').value.split(' ');
  };

  it('ray.io/cluster + ray.io/node-type: head (a LoadBalancer for ray:// clients) is in the head certificate', () => {
    const lb = service('ray-client-lb', { 'ray.io/cluster': 'raycluster-kuberay', 'ray.io/node-type': 'head' });
    const other = service('other-cluster', { 'ray.io/cluster': 'another', 'ray.io/node-type': 'head' });
    const r = render([rayCluster('raycluster-kuberay'), lb, other]);
    expect(r.exitCode).toBe(0);
    expect(certServices(r.items, 'head')).toEqual(['ray-client-lb', 'raycluster-kuberay-head-svc']);
    expect(certServices(r.items, 'worker')).toEqual(['']);
  });

  it('ray.io/group selects a worker group; a template label cannot override the ones KubeRay keeps', () => {
    const spec = clusterSpec();
    spec.workerGroupSpecs[0].template.metadata = { labels: { 'ray.io/group': 'fake', team: 'a' } };
    const byGroup = service('workers-svc', { 'ray.io/group': 'workers', team: 'a' });
    const fake = service('fake-svc', { 'ray.io/group': 'fake' });
    const r = render([rayCluster('rc', spec), byGroup, fake]);
    expect(certServices(r.items, 'worker')).toEqual(['workers-svc']);
  });
});

describe('no Ray pod in silence', () => {
  it("AIBrix's RayClusterFleet and RayClusterReplicaSet are KubeRay kinds (RayCluster spec in spec.template)", () => {
    const fleet = {
      apiVersion: 'orchestration.aibrix.ai/v1alpha1',
      kind: 'RayClusterFleet',
      metadata: { name: 'fleet', namespace: 'ray' },
      spec: { replicas: 1, template: { metadata: { labels: { model: 'llama' } }, spec: clusterSpec() } },
    };
    const rs = { ...structuredClone(fleet), kind: 'RayClusterReplicaSet', metadata: { name: 'rs', namespace: 'ray' } };
    const r = render([fleet, rs]);
    expect(r.exitCode, r.stderr.join('\n')).toBe(0);
    for (const item of r.items.filter((i) => i.kind.startsWith('RayCluster'))) {
      const head = item.spec.template.spec.headGroupSpec.template.spec;
      expect(head.initContainers[0].name).toBe('ray-tls-init');
      // AIBrix names each cluster at run time: the head's certificate reads it from the pod label.
      expect(head.initContainers[0].env.map((e: Obj) => e.name)).toContain('CERT_RAY_CLUSTER');
    }
    expect(messages(r, 'info').find((m) => m.startsWith('ray-tls (per-pod)'))).toMatch(/: 4 Ray node pod template/);
  });

  it('Ray in a kind ray-tls does not know: a warning naming the kind and the path', () => {
    const lws = {
      apiVersion: 'leaderworkerset.x-k8s.io/v1',
      kind: 'LeaderWorkerSet',
      metadata: { name: 'vllm', namespace: 'ray' },
      spec: {
        leaderWorkerTemplate: {
          leaderTemplate: {
            spec: {
              containers: [
                ray('vllm-leader', {
                  command: ['sh', '-c', 'bash /vllm-workspace/ray_init.sh leader; ray start --head --block'],
                }),
              ],
            },
          },
          workerTemplate: {
            spec: { containers: [ray('vllm-worker', { env: [{ name: 'RAY_ADDRESS', value: 'ray://vllm:10001' }] })] },
          },
        },
      },
    };
    const r = render([lws]);
    expect(r.exitCode).toBe(0);
    const warnings = messages(r, 'warning').filter((m) => m.startsWith('LeaderWorkerSet'));
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(
      new RegExp(
        '^LeaderWorkerSet spec\\.leaderWorkerTemplate\\.leaderTemplate\\.spec\\.containers: container vllm-leader ' +
          'runs `ray start`, but ray-tls does not know where LeaderWorkerSet keeps its pod templates',
      ),
    );
    expect(warnings[1]).toMatch(
      /workerTemplate\.spec\.containers: container vllm-worker connects to a ray:\/\/ address/,
    );
    // Skipped on purpose: no word.
    const skipped = { ...lws, metadata: { ...lws.metadata, annotations: { 'ray-tls.io/skip': 'true' } } };
    expect(messages(render([skipped]), 'warning').filter((m) => m.startsWith('LeaderWorkerSet'))).toEqual([]);
  });
});

// What `ray start` receives: the script run by bash with `ray` a function printing its arguments.
const NAME = '10-244-7-2.ray.pod.cluster.local';
const POD = { RAY_TLS_POD_IP: '10.244.7.2', RAY_TLS_POD_NAMESPACE: 'ray', MY_POD_IP: '10.244.7.2' };
function rayArgs(script: string, env: Record<string, string> = {}): string[] {
  const r = spawnSync('bash', ['-c', `ray() { printf '%s\\n' "$@"; }\n${script}`], {
    env: { PATH: process.env.PATH ?? '', ...POD, ...env },
    encoding: 'utf8',
  });
  return r.stdout.trim().split('\n');
}
const podIpEnv = [{ name: 'MY_POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }];
const group = (items: Obj[], which: 'head' | 'worker') => {
  const spec = items.find((i) => i.kind === 'RayCluster')!.spec;
  return which === 'head' ? spec.headGroupSpec : spec.workerGroupSpecs[0];
};
const POD_DNS = { mode: 'pod-dns' };

describe("pod-dns and KubeRay's start forms", () => {
  it('a group container that runs its own `ray start` gets the flag in its script; rayStartParams stay', () => {
    const spec = clusterSpec();
    spec.headGroupSpec.template.spec.containers[0] = ray('ray-head', {
      command: ['/bin/bash', '-c', '--'],
      args: ['ulimit -n 65536; ray start --head --dashboard-host=0.0.0.0 --block'],
    });
    const r = render([rayCluster('rc', spec)], POD_DNS);
    expect(r.exitCode, r.stderr.join('\n')).toBe(0);
    const head = group(r.items, 'head');
    expect(head.rayStartParams).toEqual({});
    const c = head.template.spec.containers[0];
    expect(c.command).toEqual(['/bin/bash', '-c', '--']);
    expect(rayArgs(c.args[0])).toEqual([
      'start',
      `--node-ip-address=${NAME}`,
      '--head',
      '--dashboard-host=0.0.0.0',
      '--block',
    ]);
    // KubeRay's generated form is unchanged: the address goes into rayStartParams.
    expect(group(r.items, 'worker').rayStartParams['node-ip-address']).toMatch(/^\$\(echo "\$RAY_TLS_POD_IP"/);
    // The head's RAY_ADDRESS is `auto` (KubeRay's 127.0.0.1 would meet the pod IP); workers dial the head Service.
    const address = (c: Obj) => c.env.find((e: Obj) => e.name === 'RAY_ADDRESS')?.value;
    expect(address(c)).toBe('auto');
    expect(address(group(r.items, 'worker').template.spec.containers[0])).toBeUndefined();
    const own = clusterSpec();
    own.headGroupSpec.template.spec.containers[0].env = [{ name: 'RAY_ADDRESS', value: 'mine:6379' }];
    const kept = group(render([rayCluster('rc', own)], POD_DNS).items, 'head').template.spec.containers[0];
    expect(address(kept)).toBe('mine:6379');
  });

  // KubeRay's generated command, as the operator exports it in $KUBERAY_GEN_RAY_START_CMD.
  const GENERATED = 'ray start --head  --block  --dashboard-host=0.0.0.0  --metrics-export-port=8080 ';
  for (const [form, line] of [
    ['a plain expansion', 'echo starting; $KUBERAY_GEN_RAY_START_CMD'],
    ['eval', 'echo starting; eval "$KUBERAY_GEN_RAY_START_CMD"'],
  ] as const) {
    it(`ray.io/overwrite-container-cmd with ${form} of $KUBERAY_GEN_RAY_START_CMD: the address works`, () => {
      const spec = clusterSpec();
      spec.headGroupSpec.template.spec.containers[0] = ray('ray-head', {
        command: ['/bin/bash', '-c', '--'],
        args: [line],
      });
      spec.workerGroupSpecs[0].template.spec.containers[0] = ray('ray-worker', {
        command: ['/bin/bash', '-c', '--'],
        args: [line],
      });
      const rc = rayCluster('rc', spec, { annotations: { 'ray.io/overwrite-container-cmd': 'true' } });
      const r = render([rc], POD_DNS);
      expect(r.exitCode, r.stderr.join('\n')).toBe(0);
      const head = group(r.items, 'head');
      // Not in rayStartParams: a `$(...)` in the variable reaches a plain expansion as broken words.
      expect(head.rayStartParams).toEqual({});
      const args = rayArgs(head.template.spec.containers[0].args[0], { KUBERAY_GEN_RAY_START_CMD: GENERATED });
      expect(args.slice(1)).toEqual([
        'start',
        '--head',
        '--block',
        '--dashboard-host=0.0.0.0',
        '--metrics-export-port=8080',
        `--node-ip-address=${NAME}`,
      ]);
      expect(render(r.items, POD_DNS).items).toEqual(r.items); // idempotent
    });
  }

  it('why: the address in rayStartParams reached a plain expansion as broken words', () => {
    const param = '--node-ip-address=$(echo "$RAY_TLS_POD_IP" | tr .: --).$RAY_TLS_POD_NAMESPACE.pod.x';
    const withParam = `${GENERATED} ${param} `;
    expect(rayArgs('$KUBERAY_GEN_RAY_START_CMD', { KUBERAY_GEN_RAY_START_CMD: withParam })).toContain(
      '--node-ip-address=$(echo',
    );
  });

  it('overwrite-container-cmd with the variable used otherwise: a clear error', () => {
    const spec = clusterSpec();
    spec.headGroupSpec.template.spec.containers[0] = ray('ray-head', {
      command: ['/bin/bash', '-c', '--'],
      args: ['CMD="$KUBERAY_GEN_RAY_START_CMD"; bash -c "$CMD"'],
    });
    const r = render([rayCluster('rc', spec, { annotations: { 'ray.io/overwrite-container-cmd': 'true' } })], POD_DNS);
    expect(r.exitCode).toBe(1);
    expect(messages(r, 'error')[0]).toContain(
      'ray.io/overwrite-container-cmd: ray-tls adds --node-ip-address where the script runs ' +
        '`$KUBERAY_GEN_RAY_START_CMD` or `eval "$KUBERAY_GEN_RAY_START_CMD"` as a command, and this one uses it ' +
        'otherwise; run it in one of those forms',
    );
  });

  it('--node-ip-address $MY_POD_IP (the downward-API pod IP) is rewritten, not refused', () => {
    const deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'ray-worker', namespace: 'ray' },
      spec: {
        template: {
          spec: {
            containers: [
              ray('w', {
                env: podIpEnv,
                command: ['sh', '-c', 'ray start --address=ray-head:6379 --node-ip-address $MY_POD_IP --block'],
              }),
            ],
          },
        },
      },
    };
    const r = render([deployment], POD_DNS);
    expect(r.exitCode, r.stderr.join('\n')).toBe(0);
    const c = r.items[0].spec.template.spec.containers[0];
    expect(c.command).toEqual(['sh', '-c']);
    expect(rayArgs(c.args[0])).toEqual(['start', '--address=ray-head:6379', `--node-ip-address=${NAME}`, '--block']);
    // In exec form too, and in KubeRay's rayStartParams.
    deployment.spec.template.spec.containers[0].command = ['ray', 'start', '--node-ip-address=$(MY_POD_IP)', '--block'];
    const exec = render([deployment], POD_DNS).items[0].spec.template.spec.containers[0];
    expect(exec.args).toEqual(['ray', 'start', '--block']);
    const spec = clusterSpec();
    spec.workerGroupSpecs[0].rayStartParams = { 'node-ip-address': '$MY_POD_IP' };
    spec.workerGroupSpecs[0].template.spec.containers[0].env = podIpEnv;
    const kr = render([rayCluster('rc', spec)], POD_DNS);
    expect(kr.exitCode, kr.stderr.join('\n')).toBe(0);
    expect(group(kr.items, 'worker').rayStartParams['node-ip-address']).toMatch(/^\$\(echo "\$RAY_TLS_POD_IP"/);
  });
});

describe('per-pod: a foreign node-ip-address', () => {
  it("Kubeflow's `$(hostname -I...).<headless-svc>...`: a warning that the certificate will not name it", () => {
    const spec = clusterSpec();
    const kubeflow = "$(hostname -I | tr -d ' ' | sed 's/\\./-/g').raycluster-headless.kubeflow.svc.cluster.local";
    spec.headGroupSpec.rayStartParams = { 'node-ip-address': kubeflow };
    const r = render([rayCluster('rc', spec)]);
    expect(r.exitCode).toBe(0);
    expect(messages(r, 'warning')).toContain(
      `headGroupSpec: Ray advertises --node-ip-address ${kubeflow}, which this node's certificate will not name (a ` +
        'per-pod certificate names the pod IP, 127.0.0.1, localhost and the Services that select the pod), so peers ' +
        'that verify it will refuse the node; drop node-ip-address (the pod IP is the default), or use mode: pod-dns ' +
        'for DNS names',
    );
  });

  it('the pod IP itself ($MY_POD_IP from status.podIP) is no warning; a literal address in a script is', () => {
    const spec = clusterSpec();
    spec.headGroupSpec.rayStartParams = { 'node-ip-address': '$(MY_POD_IP)' };
    spec.headGroupSpec.template.spec.containers[0].env = podIpEnv;
    expect(messages(render([rayCluster('rc', spec)]), 'warning').filter((m) => /node-ip-address/.test(m))).toEqual([]);
    const plain = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'ray-head', namespace: 'ray' },
      spec: {
        template: {
          spec: {
            containers: [ray('h', { command: ['sh', '-c', 'ray start --head --node-ip-address=ray-head --block'] })],
          },
        },
      },
    };
    expect(messages(render([plain]), 'warning').filter((m) => /node-ip-address ray-head,/.test(m))).toHaveLength(1);
  });
});
