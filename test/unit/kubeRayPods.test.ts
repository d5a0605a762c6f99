// The test builder of KubeRay's pods (test/support/kubeRayPods.ts) against what KubeRay's own
// unit tests expect at the pinned commit (common/pod_test.go: TestBuildPod,
// TestGenerateRayStartCommand, TestBuildPod_WithOverwriteCommand, TestInitLivenessAndReadinessProbe,
// TestDefaultInitContainer), restated here as facts.
import { describe, expect, it } from 'vitest';
import {
  buildClusterPods,
  buildSubmitter,
  KUBERAY_COMMIT,
  type KubeRayCluster,
  rayStartCommand,
} from '../support/kubeRayPods.js';

type Obj = Record<string, any>;

// KubeRay's test cluster: "raycluster-sample" in "default"; the head has no rayStartParams and
// 1 CPU / 1Gi; the worker group "small-group" has port 6379 and limits 1 CPU, 1Gi, 3 GPUs.
const sample = (): KubeRayCluster => ({
  name: 'raycluster-sample',
  namespace: 'default',
  spec: {
    headGroupSpec: {
      rayStartParams: {},
      template: {
        spec: {
          containers: [
            {
              name: 'ray-head',
              image: 'repo/image:custom',
              env: [{ name: 'TEST_ENV_NAME', value: 'TEST_ENV_VALUE' }],
              resources: { requests: { cpu: '1', memory: '1Gi' }, limits: { cpu: '1', memory: '1Gi' } },
            },
          ],
        },
      },
    },
    workerGroupSpecs: [
      {
        groupName: 'small-group',
        rayStartParams: { port: '6379' },
        template: {
          spec: {
            containers: [
              {
                name: 'ray-worker',
                image: 'repo/image:custom',
                resources: { limits: { cpu: '1', memory: '1Gi', 'nvidia.com/gpu': '3' } },
                env: [{ name: 'TEST_ENV_NAME', value: 'TEST_ENV_VALUE' }],
              },
            ],
          },
        },
      },
    ],
  },
});
const words = (s: string) => s.split(' ').filter(Boolean).sort();
const env = (c: Obj, name: string) => {
  const e = (c.env as Obj[]).find((x) => x.name === name);
  return e?.value ?? e?.valueFrom?.fieldRef?.fieldPath ?? e?.valueFrom?.secretKeyRef;
};
const FQDN = 'raycluster-sample-head-svc.default.svc.cluster.local';

describe(`KubeRay-built pods (kuberay ${KUBERAY_COMMIT.slice(0, 7)}) match KubeRay's expected pods`, () => {
  it('TestBuildPod: the head runs the generated ray start with its defaults, gets its env and /dev/shm', () => {
    const { head } = buildClusterPods(sample());
    const ray = head.spec.containers[0]! as Obj;
    expect(ray.command).toEqual(['/bin/bash', '-c', '--']);
    expect(words(ray.args[0])).toEqual(
      words(
        'ulimit -n ${RAY_START_ULIMIT_OPEN_FILES:-65536}; ray start --head --block ' +
          '--dashboard-agent-listen-port=52365 --memory=1073741824 --num-cpus=1 --metrics-export-port=8080 ' +
          '--dashboard-host=0.0.0.0',
      ),
    );
    expect(env(ray, 'RAY_ADDRESS')).toBe('127.0.0.1:6379');
    expect(env(ray, 'RAY_USAGE_STATS_KUBERAY_IN_USE')).toBe('1');
    expect(env(ray, 'RAY_CLUSTER_NAME')).toBe("metadata.labels['ray.io/cluster']");
    expect(env(ray, 'RAY_CLUSTER_NAMESPACE')).toBe('metadata.namespace');
    expect(env(ray, 'RAY_DASHBOARD_ENABLE_K8S_DISK_USAGE')).toBe('1');
    expect(env(ray, 'RAY_NODE_TYPE_NAME')).toBe("metadata.labels['ray.io/group']");
    expect(env(ray, 'RAY_USAGE_STATS_EXTRA_TAGS')).toBe('kuberay_version=nightly;kuberay_crd=RayCluster');
    expect(env(ray, 'KUBERAY_GEN_RAY_START_CMD')).toContain('ray start');
    expect(env(ray, 'TEST_ENV_NAME')).toBe('TEST_ENV_VALUE');
    expect(head.metadata.labels).toMatchObject({
      'ray.io/cluster': 'raycluster-sample',
      'ray.io/node-type': 'head',
      'ray.io/group': 'headgroup',
    });
    expect(head.spec.volumes).toEqual([{ name: 'shared-mem', emptyDir: { medium: 'Memory', sizeLimit: '1Gi' } }]);
    expect(ray.volumeMounts).toEqual([{ name: 'shared-mem', mountPath: '/dev/shm' }]);
  });

  it('TestBuildPod: the worker dials the head Service FQDN, with num-gpus from its GPU limit', () => {
    const [worker] = buildClusterPods(sample()).workers;
    const ray = worker!.spec.containers[0]! as Obj;
    expect(words(ray.args[0])).toEqual(
      words(
        'ulimit -n ${RAY_START_ULIMIT_OPEN_FILES:-65536}; ray start --block --dashboard-agent-listen-port=52365 ' +
          `--memory=1073741824 --num-cpus=1 --num-gpus=3 --address=${FQDN}:6379 --port=6379 --metrics-export-port=8080`,
      ),
    );
    expect(env(ray, 'RAY_ADDRESS')).toBe(`${FQDN}:6379`);
    expect(env(ray, 'FQ_RAY_IP')).toBe(FQDN);
    expect(env(ray, 'RAY_IP')).toBe('raycluster-sample-head-svc');
    expect(worker!.metadata.labels).toMatchObject({ 'ray.io/node-type': 'worker', 'ray.io/group': 'small-group' });
  });

  it("TestDefaultInitContainer: the worker's wait-gcs-ready copies the Ray container's env, image, pull policy", () => {
    const cluster = sample();
    cluster.spec.workerGroupSpecs[0].template.spec.containers[0].imagePullPolicy = 'Never';
    const [worker] = buildClusterPods(cluster).workers;
    const init = worker!.spec.initContainers!.at(-1) as Obj;
    expect(init.name).toBe('wait-gcs-ready');
    expect(init.imagePullPolicy).toBe('Never');
    expect(init.args[0]).toContain(`ray health-check --address ${FQDN}:6379`);
    // The Ray container's own env, then the two every init container gets.
    expect(init.env.map((e: Obj) => e.name)).toEqual(['TEST_ENV_NAME', 'FQ_RAY_IP', 'RAY_IP']);
    expect(init.resources).toEqual({
      limits: { cpu: '200m', memory: '256Mi' },
      requests: { cpu: '200m', memory: '256Mi' },
    });
  });

  it('TestGenerateRayStartCommand: flags with spaces around them; false kept only for the tri-state flags', () => {
    expect(rayStartCommand('worker', {}, { limits: { 'nvidia.com/gpu': '1' } })).toBe('ray start  --num-gpus=1 ');
    expect(rayStartCommand('head', { 'include-log-monitor': 'false' })).toBe(
      'ray start --head  --include-log-monitor=false ',
    );
    expect(rayStartCommand('head', { 'include-log-monitor': 'true' })).toBe(
      'ray start --head  --include-log-monitor=true ',
    );
  });

  it('TestBuildPod_WithOverwriteCommand: the annotation keeps the user command and args', () => {
    const cluster = { ...sample(), annotations: { 'ray.io/overwrite-container-cmd': 'true' } };
    cluster.spec.headGroupSpec.template.spec.containers[0].command = ['I am head'];
    cluster.spec.headGroupSpec.template.spec.containers[0].args = ['I am head again'];
    const { head } = buildClusterPods(cluster);
    expect(head.spec.containers[0]!.command).toEqual(['I am head']);
    expect(head.spec.containers[0]!.args).toEqual(['I am head again']);
    expect(env(head.spec.containers[0] as Obj, 'KUBERAY_GEN_RAY_START_CMD')).toMatch(/^ray start --head /);
  });

  it('TestInitLivenessAndReadinessProbe: wget exec probes (head 5 s, worker 2 s); /api/healthz from Ray 2.53', () => {
    const old = buildClusterPods(sample());
    const headProbe = old.head.spec.containers[0]!.livenessProbe as Obj;
    expect(headProbe.timeoutSeconds).toBe(5);
    expect(headProbe.exec.command.join(' ')).toMatch(/:52365\/api\/local_raylet_healthz.*:8265\/api\/gcs_healthz/);
    const workerProbe = old.workers[0]!.spec.containers[0]!.readinessProbe as Obj;
    expect(workerProbe.timeoutSeconds).toBe(2);
    expect(workerProbe.exec.command.join(' ')).not.toContain(':8265');
    const cluster = sample();
    cluster.spec.rayVersion = '2.58.0';
    const current = buildClusterPods(cluster).head.spec.containers[0] as Obj;
    expect(current.livenessProbe.httpGet).toEqual({ path: '/api/healthz', port: 52365 });
    expect(current.readinessProbe.exec).toBeUndefined();
  });

  it("authOptions token mode: the Secret's auth_token key on the Ray container, wait-gcs-ready, the submitter", () => {
    const cluster = sample();
    cluster.spec.authOptions = { mode: 'token', secretName: 'ray-auth-token' };
    const { head, workers } = buildClusterPods(cluster);
    const ref = { name: 'ray-auth-token', key: 'auth_token' };
    for (const c of [
      head.spec.containers[0],
      workers[0]!.spec.containers[0],
      workers[0]!.spec.initContainers!.at(-1),
    ]) {
      expect(env(c as Obj, 'RAY_AUTH_MODE')).toBe('token');
      expect(env(c as Obj, 'RAY_AUTH_TOKEN')).toEqual(ref);
    }
    // Without secretName the operator's own Secret, named after the cluster.
    cluster.spec.authOptions = { mode: 'token' };
    expect(env(buildClusterPods(cluster).head.spec.containers[0] as Obj, 'RAY_AUTH_TOKEN')).toEqual({
      name: 'raycluster-sample',
      key: 'auth_token',
    });
    const job = { metadata: { name: 'job' }, spec: { entrypoint: 'python main.py' } };
    const submitter = buildSubmitter(job, cluster, 'job-abc').spec.containers[0] as Obj;
    expect(submitter.command).toEqual(['/bin/bash', '-ce', '--']);
    expect(submitter.args[0]).toContain(
      `ray job submit --address http://${FQDN}:8265 --no-wait --submission-id job-abc -- python main.py ;`,
    );
    expect(env(submitter, 'RAY_DASHBOARD_ADDRESS')).toBe(`${FQDN}:8265`);
    expect(env(submitter, 'RAY_AUTH_TOKEN')).toEqual({ name: 'raycluster-sample', key: 'auth_token' });
  });
});
