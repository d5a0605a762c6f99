import { describe, expect, it } from 'vitest';
import type { Resource } from '../../src/krm/resource.js';
import { podTemplates } from '../../src/ray/kinds.js';
import { decideRole, podView, selects } from '../../src/ray/pods.js';
import type { Json } from '../../src/yaml/json.js';

type Obj = Record<string, Json>;
const pod = (containers: Obj[], metadata: Obj = {}): Obj => ({ metadata, spec: { containers } });
const resource = (apiVersion: string, kind: string, body: Obj, annotations?: Record<string, string>): Resource =>
  ({ apiVersion, kind, metadata: { name: 'r', ...(annotations && { annotations }) }, ...body }) as Resource;
const paths = (r: Resource) => podTemplates(r).map((t) => t.path);
const template = pod([{ name: 'c', image: 'i' }]);

describe('podTemplates', () => {
  it.each([
    ['apps/v1', 'Deployment'],
    ['apps/v1', 'StatefulSet'],
    ['apps/v1', 'DaemonSet'],
    ['extensions/v1beta1', 'DaemonSet'],
    ['apps/v1', 'ReplicaSet'],
    ['batch/v1', 'Job'],
    ['v1', 'ReplicationController'],
  ])('%s %s: spec.template', (apiVersion, kind) => {
    expect(podTemplates(resource(apiVersion, kind, { spec: { template } }))).toEqual([
      { path: ['spec', 'template'], where: 'spec.template' },
    ]);
  });

  it('batch CronJob: spec.jobTemplate.spec.template', () => {
    const r = resource('batch/v1', 'CronJob', { spec: { schedule: '@daily', jobTemplate: { spec: { template } } } });
    expect(podTemplates(r)).toEqual([
      { path: ['spec', 'jobTemplate', 'spec', 'template'], where: 'spec.jobTemplate.spec.template' },
    ]);
  });

  it('v1 Pod: the resource itself', () => {
    expect(podTemplates(resource('v1', 'Pod', { spec: template.spec }))).toEqual([{ path: [], where: 'spec' }]);
  });

  it('v1 PodTemplate: template', () => {
    expect(paths(resource('v1', 'PodTemplate', { template }))).toEqual([['template']]);
  });

  it.each(['ray.io/v1', 'ray.io/v1alpha1'])('%s RayCluster: the head and each worker group', (apiVersion) => {
    const r = resource(apiVersion, 'RayCluster', {
      spec: { headGroupSpec: { template }, workerGroupSpecs: [{ groupName: 'cpu', template }, { template }] },
    });
    expect(podTemplates(r)).toEqual([
      { path: ['spec', 'headGroupSpec', 'template'], where: 'headGroupSpec', kuberay: 'head' },
      { path: ['spec', 'workerGroupSpecs', 0, 'template'], where: 'workerGroupSpecs[0] (cpu)', kuberay: 'worker' },
      { path: ['spec', 'workerGroupSpecs', 1, 'template'], where: 'workerGroupSpecs[1]', kuberay: 'worker' },
    ]);
  });

  it('RayJob: rayClusterSpec groups and the submitter pod template', () => {
    const r = resource('ray.io/v1', 'RayJob', {
      spec: {
        entrypoint: 'python x.py',
        rayClusterSpec: { headGroupSpec: { template }, workerGroupSpecs: [{ groupName: 'w', template }] },
        submitterPodTemplate: template,
      },
    });
    expect(podTemplates(r).map(({ path, kuberay }) => ({ path, kuberay }))).toEqual([
      { path: ['spec', 'rayClusterSpec', 'headGroupSpec', 'template'], kuberay: 'head' },
      { path: ['spec', 'rayClusterSpec', 'workerGroupSpecs', 0, 'template'], kuberay: 'worker' },
      { path: ['spec', 'submitterPodTemplate'], kuberay: 'submitter' },
    ]);
  });

  it('RayService: rayClusterConfig', () => {
    const r = resource('ray.io/v1alpha1', 'RayService', {
      spec: { rayClusterConfig: { headGroupSpec: { template } } },
    });
    expect(paths(r)).toEqual([['spec', 'rayClusterConfig', 'headGroupSpec', 'template']]);
  });

  it.each([
    ['example.com/v1', 'Deployment'],
    ['apps.example.com/v1', 'Deployment'],
    ['example.com/v1', 'CronJob'],
    ['example.com/v1', 'Pod'],
    ['v2', 'Pod'],
    ['ray.io/v2', 'RayCluster'],
    ['kuberay.example/v1', 'RayCluster'],
    ['v1', 'ConfigMap'],
  ])('%s %s: none (another API group)', (apiVersion, kind) => {
    const r = resource(apiVersion, kind, {
      spec: { template, jobTemplate: { spec: { template } }, headGroupSpec: { template } },
    });
    expect(podTemplates(r)).toEqual([]);
  });

  it('a workload without a template: none', () => {
    expect(podTemplates(resource('apps/v1', 'Deployment', { spec: { replicas: 1 } }))).toEqual([]);
    expect(
      podTemplates(resource('ray.io/v1', 'RayCluster', { spec: { workerGroupSpecs: [{ groupName: 'w' }] } })),
    ).toEqual([]);
  });
});

/** The role of the first pod template of a Deployment with these containers. */
function roleOf(
  containers: Obj[],
  opts: {
    labels?: Record<string, string>;
    podAnnotations?: Record<string, string>;
    annotations?: Record<string, string>;
    clientSelector?: Record<string, string>;
  } = {},
) {
  const r = resource(
    'apps/v1',
    'Deployment',
    { spec: { template: pod(containers, { labels: opts.labels ?? {}, annotations: opts.podAnnotations ?? {} }) } },
    opts.annotations,
  );
  const [ref] = podTemplates(r);
  return decideRole(r, ref, podView(r, ref), opts.clientSelector ?? {});
}
const ray = (c: Obj): Obj => ({ name: 'ray', image: 'rayproject/ray:2.58.0', ...c });

describe('decideRole', () => {
  it('`ray start` as exec args is a node', () => {
    expect(roleOf([ray({ command: ['ray', 'start', '--head', '--block'] })])).toEqual({
      role: 'node',
      why: 'container ray runs `ray start`',
    });
  });

  it('`ray start` inside an `sh -c` script is a node', () => {
    expect(
      roleOf([
        ray({
          command: ['/bin/bash', '-c'],
          args: ['ulimit -n 65536\nexec ray start --address=ray-head:6379 --block'],
        }),
      ]).role,
    ).toBe('node');
    expect(
      roleOf([ray({ command: ['sh', '-c', '/home/ray/anaconda3/bin/ray start --head && sleep infinity'] })]).role,
    ).toBe('node');
  });

  it('command [ray] with args [start, ...] is a node', () => {
    expect(roleOf([ray({ command: ['ray'], args: ['start', '--address=ray-head:6379'] })]).role).toBe('node');
  });

  it('other ray subcommands and look-alikes are not `ray start`', () => {
    expect(roleOf([ray({ command: ['ray', 'status'] })]).role).toBe('none');
    expect(roleOf([ray({ command: ['xray', 'start'] })]).role).toBe('none');
    expect(roleOf([ray({ command: ['ray', 'started'] })]).role).toBe('none');
  });

  it('RAY_ADDRESS=ray://... in env is a client', () => {
    const c = {
      name: 'worker',
      image: 'django',
      args: ['python', 'manage.py', 'django_ray_worker'],
      env: [{ name: 'RAY_ADDRESS', value: 'ray://ray-head:10001' }],
    };
    expect(roleOf([c])).toEqual({ role: 'client', why: 'container worker has RAY_ADDRESS=ray://ray-head:10001' });
  });

  it('a ray:// address in args is a client', () => {
    expect(
      roleOf([{ name: 'job', image: 'x', args: ['python', 'run.py', '--address', 'ray://ray-head:10001'] }]),
    ).toEqual({ role: 'client', why: 'container job connects to a ray:// address' });
  });

  it('a ray:// address in an init container is a client', () => {
    const r = resource('v1', 'Pod', {
      spec: {
        initContainers: [{ name: 'wait', image: 'x', env: [{ name: 'A', value: 'ray://h:10001' }] }],
        containers: [{ name: 'app', image: 'x' }],
      },
    });
    const [ref] = podTemplates(r);
    expect(decideRole(r, ref, podView(r, ref), {}).role).toBe('client');
  });

  it('non-ray:// addresses and env from secrets are not clients', () => {
    expect(
      roleOf([
        {
          name: 'a',
          image: 'x',
          env: [
            { name: 'RAY_ADDRESS', value: 'http://ray-head:8265' },
            { name: 'B', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } },
          ],
        },
      ]).role,
    ).toBe('none');
  });

  it('clientSelector: every label must match', () => {
    const c = [{ name: 'app', image: 'x' }];
    expect(roleOf(c, { labels: { app: 'django', tier: 'w' }, clientSelector: { app: 'django' } })).toEqual({
      role: 'client',
      why: 'labels match the config clientSelector',
    });
    expect(roleOf(c, { labels: { app: 'django' }, clientSelector: { app: 'django', tier: 'w' } }).role).toBe('none');
    expect(roleOf(c, { labels: { app: 'web' }, clientSelector: { app: 'django' } }).role).toBe('none');
  });

  it('the role annotation overrides detection, on the resource or the pod template', () => {
    const starter = [ray({ command: ['ray', 'start', '--head'] })];
    expect(roleOf(starter, { annotations: { 'ray-tls.io/role': 'none' } })).toEqual({
      role: 'none',
      why: 'annotation ray-tls.io/role: none',
    });
    expect(roleOf(starter, { podAnnotations: { 'ray-tls.io/role': 'client' } }).role).toBe('client');
    expect(roleOf([{ name: 'a', image: 'x' }], { annotations: { 'ray-tls.io/role': 'node' } }).role).toBe('node');
  });

  it('the pod template annotation wins over the resource annotation', () => {
    expect(
      roleOf([{ name: 'a', image: 'x' }], {
        annotations: { 'ray-tls.io/role': 'client' },
        podAnnotations: { 'ray-tls.io/role': 'node' },
      }).role,
    ).toBe('node');
  });

  it('an unknown annotation value is ignored and detection decides', () => {
    expect(roleOf([ray({ command: ['ray', 'start'] })], { annotations: { 'ray-tls.io/role': 'worker' } }).role).toBe(
      'node',
    );
  });

  it('a node wins over a client address and the clientSelector', () => {
    const c = ray({
      command: ['ray', 'start', '--address=ray-head:6379'],
      env: [{ name: 'RAY_ADDRESS', value: 'ray://ray-head:10001' }],
    });
    expect(roleOf([c], { labels: { app: 'd' }, clientSelector: { app: 'd' } }).role).toBe('node');
  });

  it('a pod with neither is not Ray', () => {
    expect(roleOf([{ name: 'web', image: 'nginx', args: ['nginx', '-g', 'daemon off;'] }])).toEqual({
      role: 'none',
      why: 'no `ray start` and no ray:// address',
    });
  });

  it('KubeRay head and worker groups are nodes without any command; the submitter is a client', () => {
    const r = resource('ray.io/v1', 'RayJob', {
      spec: {
        rayClusterSpec: { headGroupSpec: { template }, workerGroupSpecs: [{ template }] },
        submitterPodTemplate: template,
      },
    });
    expect(podTemplates(r).map((ref) => decideRole(r, ref, podView(r, ref), {}))).toEqual([
      { role: 'node', why: 'KubeRay head group' },
      { role: 'node', why: 'KubeRay worker group' },
      { role: 'client', why: 'KubeRay job submitter' },
    ]);
  });
});

describe('selects', () => {
  it('every selector label must be on the pod', () => {
    expect(selects({ app: 'ray', component: 'head' }, { app: 'ray', component: 'head', extra: 'x' })).toBe(true);
    expect(selects({ app: 'ray', component: 'head' }, { app: 'ray' })).toBe(false);
    expect(selects({ app: 'ray' }, { app: 'Ray' })).toBe(false);
  });

  it('an empty or missing selector selects nothing (a Service without a selector has manual endpoints)', () => {
    expect(selects({}, { app: 'ray' })).toBe(false);
    expect(selects(undefined, { app: 'ray' })).toBe(false);
  });

  it('compares values as strings (a YAML number in a selector)', () => {
    expect(selects({ version: 2 } as unknown as Record<string, string>, { version: '2' })).toBe(true);
  });
});
