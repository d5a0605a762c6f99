// The pods KubeRay would create from a RayCluster spec (and a RayJob's submitter), so the
// real-Ray tests can run what the operator runs. Written from reading KubeRay's source at
// ray-project/kuberay feeaf72facab4881ba2b179248bb67315634e229 (ray-operator/controllers/ray:
// common/pod.go DefaultHeadPodTemplate, DefaultWorkerPodTemplate, BuildPod,
// configureTokenAuth; common/job.go BuildJobSubmitCommand; rayjob_controller.go
// configureSubmitterContainer; utils/constant.go), with the operator's defaults (init
// container and probe injection on, no login shell, no feature gates, no operator-wide env).
//
// Modelled: labels; rayStartParams defaults and the generated `ray start` (num-cpus, memory,
// num-gpus from the Ray container's resources), the "ray start" text test and the
// ray.io/overwrite-container-cmd annotation; the /dev/shm emptyDir; the metrics port; the
// env KubeRay adds (RAY_ADDRESS, FQ_RAY_IP, KUBERAY_GEN_RAY_START_CMD...); the worker's
// wait-gcs-ready init container; the probes (HTTP /api/healthz for Ray >= 2.53, else wget);
// authOptions token mode (secretName or the cluster's name, key auth_token) on the Ray
// container, wait-gcs-ready and the submitter; the K8sJobMode submitter command and env.
// Not modelled: the autoscaler and history-collector containers, GCS fault tolerance,
// KubeRay's own TLS (tlsOptions), enableK8sTokenAuth, custom accelerators other than GPUs,
// RayService's serve label and readiness, sidecar submission mode, multi-host indexing.
import type { PodManifest } from '../ray/podRunner.js';

type Obj = Record<string, any>;

export const KUBERAY_COMMIT = 'feeaf72facab4881ba2b179248bb67315634e229';
const AGENT_PORT = 52365;
const DASHBOARD_PORT = 8265;
const METRICS_PORT = 8080;
const TOKEN_KEY = 'auth_token';
const BASH = ['/bin/bash', '-c', '--'];

export interface KubeRayCluster {
  name: string;
  namespace: string;
  annotations?: Record<string, string>;
  spec: Obj;
}

export type Creator = 'RayCluster' | 'RayJob' | 'RayService';

const clone = <T>(v: T): T => (v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T));
const field = (fieldPath: string) => ({ valueFrom: { fieldRef: { fieldPath } } });
const hasEnv = (c: Obj, name: string) => (c.env ?? []).some((e: Obj) => e.name === name);
const addEnv = (c: Obj, e: Obj) => {
  c.env = [...(c.env ?? []), e];
};
const addEnvIfMissing = (c: Obj, e: Obj) => {
  if (!hasEnv(c, e.name)) addEnv(c, e);
};

/** The head Service's full name, which workers dial (utils.GenerateFQDNServiceName). */
export function headServiceFqdn(cluster: KubeRayCluster, domain = 'cluster.local'): string {
  const custom = cluster.spec.headGroupSpec?.headService?.metadata?.name;
  return `${custom || `${cluster.name}-head-svc`}.${cluster.namespace}.svc.${domain}`;
}

/** A Kubernetes quantity as KubeRay reads it with Value(): rounded up to a whole number. */
export function quantityValue(q: string | number | undefined): number {
  if (q === undefined) return 0;
  const m = /^([0-9.]+)([a-zA-Z]*)$/.exec(String(q));
  if (!m) throw new Error(`unsupported quantity ${q}`);
  const units: Record<string, number> = {
    '': 1,
    m: 1e-3,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
  };
  const unit = units[m[2]!];
  if (unit === undefined) throw new Error(`unsupported quantity unit in ${q}`);
  return Math.ceil(Number(m[1]) * unit - 1e-9);
}

/** rayStartParams as flags, keys sorted, as KubeRay writes them (spaces around each flag). */
export function paramFlags(params: Record<string, string>): string {
  const keepFalse = ['log-color', 'include-dashboard', 'include-log-monitor'];
  let out = '';
  for (const key of Object.keys(params).sort()) {
    const v = String(params[key]);
    const bool = v.toLowerCase() === 'true' || v.toLowerCase() === 'false';
    if (bool && !keepFalse.includes(key)) out += v.toLowerCase() === 'true' ? ` --${key} ` : '';
    else out += ` --${key}=${v} `;
  }
  return out;
}

/** The generated `ray start` of a group (generateRayStartCommand), after the defaults are set. */
export function rayStartCommand(type: 'head' | 'worker', params: Record<string, string>, resources: Obj = {}): string {
  const p = { ...params };
  const limits = resources.limits ?? {};
  const requests = resources.requests ?? {};
  if (p['num-cpus'] === undefined) {
    const cpu = quantityValue(limits.cpu) || quantityValue(requests.cpu);
    if (cpu) p['num-cpus'] = String(cpu);
  }
  if (p.memory === undefined && quantityValue(limits.memory)) p.memory = String(quantityValue(limits.memory));
  for (const key of Object.keys(limits).sort()) {
    if (p['num-gpus'] === undefined && key.endsWith('gpu') && quantityValue(limits[key]))
      p['num-gpus'] = String(quantityValue(limits[key]));
  }
  return type === 'head' ? `ray start --head ${paramFlags(p)}` : `ray start ${paramFlags(p)}`;
}

/** setMissingRayStartParams: the defaults KubeRay adds to a group's rayStartParams. */
export function completeParams(
  type: 'head' | 'worker',
  params: Record<string, string> | null | undefined,
  headAddress: string,
): Record<string, string> {
  const p: Record<string, string> = {};
  for (const [k, v] of Object.entries(params ?? {})) p[k] = String(v);
  if (type === 'worker') p.address ??= headAddress;
  if (type === 'head') p['dashboard-host'] ??= '0.0.0.0';
  p['metrics-export-port'] ??= String(METRICS_PORT);
  p.block = 'true';
  p['dashboard-agent-listen-port'] ??= String(AGENT_PORT);
  return p;
}

/** KubeRay's env for Ray token authentication (SetContainerTokenAuthEnvVars, secret mode). */
export function tokenAuthEnv(c: Obj, clusterName: string, authOptions: Obj | undefined): void {
  addEnvIfMissing(c, { name: 'RAY_AUTH_MODE', value: 'token' });
  const secret = authOptions?.secretName || clusterName;
  addEnvIfMissing(c, { name: 'RAY_AUTH_TOKEN', valueFrom: { secretKeyRef: { name: secret, key: TOKEN_KEY } } });
}

const authOn = (spec: Obj) => spec.authOptions?.mode === 'token';

function labels(template: Obj, cluster: string, type: 'head' | 'worker', group: string): Record<string, string> {
  const own: Record<string, string> = {
    'ray.io/is-ray-node': 'yes',
    'ray.io/cluster': cluster,
    'ray.io/node-type': type,
    'ray.io/group': group,
    'ray.io/identifier': `${cluster}-${type}`,
    'app.kubernetes.io/name': 'kuberay',
    'app.kubernetes.io/created-by': 'kuberay-operator',
  };
  for (const [k, v] of Object.entries((template.metadata?.labels ?? {}) as Record<string, string>)) {
    if (!['ray.io/node-type', 'ray.io/group', 'ray.io/cluster'].includes(k)) own[k] = v;
  }
  return own;
}

/** The wait-gcs-ready init container of a worker (DefaultWorkerPodTemplate). */
function waitGcsReady(ray: Obj, fqdn: string, port: string): Obj {
  const target = `${fqdn}:${port}`;
  const script = [
    'SECONDS=0',
    'while true; do',
    '  if (( SECONDS <= 120 )); then',
    `    if ray health-check --address ${target} > /dev/null 2>&1; then echo "GCS is ready."; break; fi`,
    '    echo "$SECONDS seconds elapsed: Waiting for GCS to be ready."',
    '  else',
    `    if ray health-check --address ${target}; then echo "GCS is ready. Any error messages above can be ` +
      'safely ignored."; break; fi',
    '    echo "$SECONDS seconds elapsed: Still waiting for GCS to be ready."',
    '  fi',
    '  sleep 5',
    'done',
  ].join('\n');
  return {
    name: 'wait-gcs-ready',
    image: ray.image,
    ...(ray.imagePullPolicy && { imagePullPolicy: ray.imagePullPolicy }),
    command: [...BASH],
    args: [script],
    ...(ray.securityContext && { securityContext: clone(ray.securityContext) }),
    env: clone(ray.env ?? []),
    volumeMounts: clone(ray.volumeMounts ?? []),
    resources: { limits: { cpu: '200m', memory: '256Mi' }, requests: { cpu: '200m', memory: '256Mi' } },
  };
}

/** Liveness and readiness probes (initLivenessAndReadinessProbe), unless the container has its own. */
function probes(ray: Obj, type: 'head' | 'worker', params: Record<string, string>, rayVersion: string): void {
  const port = (key: string, fallback: number) => (/^\d+$/.test(params[key] ?? '') ? Number(params[key]) : fallback);
  const agent = port('dashboard-agent-listen-port', AGENT_PORT);
  const wget = (timeout: number, p: number, path: string) =>
    `wget --tries 1 -T ${timeout} -q -O- http://localhost:${p}/${path} | grep success`;
  const commands = [wget(2, agent, 'api/local_raylet_healthz')];
  if (type === 'head') commands.push(wget(10, port('dashboard-port', DASHBOARD_PORT), 'api/gcs_healthz'));
  const v = /^(\d+)\.(\d+)/.exec(rayVersion);
  const http = !!v && (Number(v[1]) > 2 || (Number(v[1]) === 2 && Number(v[2]) >= 53));
  const handler = http
    ? { httpGet: { path: '/api/healthz', port: agent } }
    : { exec: { command: ['bash', '-c', commands.join(' && ')] } };
  const timeout = type === 'head' ? 5 : 2;
  ray.livenessProbe ??= {
    initialDelaySeconds: 30,
    timeoutSeconds: timeout,
    periodSeconds: 5,
    successThreshold: 1,
    failureThreshold: 120,
    ...handler,
  };
  ray.readinessProbe ??= {
    initialDelaySeconds: 10,
    timeoutSeconds: timeout,
    periodSeconds: 5,
    successThreshold: 1,
    failureThreshold: 10,
    ...handler,
  };
}

interface GroupInput {
  cluster: KubeRayCluster;
  creator: Creator;
  type: 'head' | 'worker';
  group: Obj;
  podName: string;
  domain?: string;
}

/** One Ray pod of a group, as the RayCluster controller creates it. */
export function buildGroupPod({ cluster, creator, type, group, podName, domain }: GroupInput): PodManifest {
  const { spec } = cluster;
  const template = clone(group.template) as Obj;
  const podSpec = template.spec as Obj;
  const ray = podSpec.containers[0] as Obj;
  const headPort = String(spec.headGroupSpec?.rayStartParams?.port ?? '6379');
  const fqdn = headServiceFqdn(cluster, domain);
  // Worker: wait-gcs-ready copies the Ray container's env and mounts as the template has them.
  if (type === 'worker')
    podSpec.initContainers = [...(podSpec.initContainers ?? []), waitGcsReady(ray, fqdn, headPort)];
  const params = completeParams(type, group.rayStartParams, `${fqdn}:${headPort}`);
  const podLabels = labels(template, cluster.name, type, type === 'head' ? 'headgroup' : group.groupName);
  const annotations: Record<string, string> = { ...(template.metadata?.annotations ?? {}) };
  if (cluster.annotations?.['ray.io/overwrite-container-cmd']?.toLowerCase() === 'true')
    annotations['ray.io/overwrite-container-cmd'] = 'true';
  if (!(ray.ports ?? []).some((p: Obj) => p.name === 'metrics'))
    ray.ports = [...(ray.ports ?? []), { name: 'metrics', containerPort: METRICS_PORT }];
  if (authOn(spec)) {
    tokenAuthEnv(ray, cluster.name, spec.authOptions);
    for (const init of podSpec.initContainers ?? [])
      if (init.name === 'wait-gcs-ready') tokenAuthEnv(init, cluster.name, spec.authOptions);
  }
  // BuildPod
  if (
    params['plasma-directory'] === undefined &&
    !(ray.volumeMounts ?? []).some((m: Obj) => m.mountPath === '/dev/shm')
  ) {
    const memory = ray.resources?.requests?.memory ?? ray.resources?.limits?.memory;
    podSpec.volumes = [
      ...(podSpec.volumes ?? []),
      { name: 'shared-mem', emptyDir: { medium: 'Memory', ...(memory && { sizeLimit: memory }) } },
    ];
    ray.volumeMounts = [...(ray.volumeMounts ?? []), { name: 'shared-mem', mountPath: '/dev/shm' }];
  }
  // Each word with a space on either side (convertCmdToString), command then args.
  const spaced = (words: string[] | undefined) => (words ?? []).map((w) => ` ${w} `).join('');
  const userCmd = spaced(ray.command) + spaced(ray.args);
  const startCmd = rayStartCommand(type, params, ray.resources);
  if (annotations['ray.io/overwrite-container-cmd'] !== 'true' && !userCmd.includes('ray start')) {
    const generated = `ulimit -n \${RAY_START_ULIMIT_OPEN_FILES:-65536}; ${startCmd}`;
    ray.command = [...BASH];
    ray.args = [userCmd ? `${userCmd} && ${generated}` : generated];
  }
  for (const init of podSpec.initContainers ?? []) {
    addEnv(init, { name: 'FQ_RAY_IP', value: fqdn });
    addEnv(init, { name: 'RAY_IP', value: fqdn.split('.')[0] });
  }
  containerEnv(ray, { type, fqdn, headPort, startCmd, creator });
  probes(ray, type, params, String(spec.rayVersion ?? ''));
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: podName, namespace: cluster.namespace, labels: podLabels, annotations },
    spec: podSpec as PodManifest['spec'],
  };
}

/** setContainerEnvVars: what KubeRay adds to the Ray container's env. */
function containerEnv(
  ray: Obj,
  o: { type: 'head' | 'worker'; fqdn: string; headPort: string; startCmd: string; creator: Creator },
): void {
  const ip = o.type === 'head' ? '127.0.0.1' : o.fqdn;
  if (o.type === 'worker') {
    addEnv(ray, { name: 'FQ_RAY_IP', value: o.fqdn });
    addEnv(ray, { name: 'RAY_IP', value: o.fqdn.split('.')[0] });
  }
  addEnv(ray, { name: 'RAY_CLUSTER_NAME', ...field("metadata.labels['ray.io/cluster']") });
  addEnv(ray, { name: 'RAY_CLUSTER_NAMESPACE', ...field('metadata.namespace') });
  addEnv(ray, { name: 'RAY_CLOUD_INSTANCE_ID', ...field('metadata.name') });
  addEnv(ray, { name: 'RAY_NODE_TYPE_NAME', ...field("metadata.labels['ray.io/group']") });
  addEnv(ray, { name: 'KUBERAY_GEN_RAY_START_CMD', value: o.startCmd });
  addEnvIfMissing(ray, { name: 'RAY_PORT', value: o.headPort });
  if (o.creator === 'RayService') {
    addEnvIfMissing(ray, { name: 'RAY_TIMEOUT_MS_TASK_WAIT_FOR_DEATH_INFO', value: '0' });
    addEnvIfMissing(ray, { name: 'RAY_GCS_SERVER_REQUEST_TIMEOUT_SECONDS', value: '5' });
    addEnvIfMissing(ray, { name: 'RAY_SERVE_KV_TIMEOUT_S', value: '5' });
  }
  addEnvIfMissing(ray, { name: 'RAY_ADDRESS', value: `${ip}:${o.headPort}` });
  addEnvIfMissing(ray, { name: 'RAY_USAGE_STATS_KUBERAY_IN_USE', value: '1' });
  if (o.type === 'head')
    addEnv(ray, { name: 'RAY_USAGE_STATS_EXTRA_TAGS', value: `kuberay_version=nightly;kuberay_crd=${o.creator}` });
  addEnvIfMissing(ray, { name: 'RAY_DASHBOARD_ENABLE_K8S_DISK_USAGE', value: '1' });
}

/** The head and one pod per worker group (replica 0) of a cluster. */
export function buildClusterPods(cluster: KubeRayCluster, creator: Creator = 'RayCluster', domain?: string) {
  const head = buildGroupPod({
    cluster,
    creator,
    type: 'head',
    group: cluster.spec.headGroupSpec,
    podName: `${cluster.name}-head`,
    domain,
  });
  const workers = ((cluster.spec.workerGroupSpecs ?? []) as Obj[]).map((group) =>
    buildGroupPod({ cluster, creator, type: 'worker', group, podName: `${cluster.name}-${group.groupName}-0`, domain }),
  );
  return { head, workers };
}

/** The K8sJobMode submit command (BuildJobSubmitCommand) for a RayJob's entrypoint. */
export function jobSubmitCommand(dashboardUrl: string, jobId: string, entrypoint: string): string {
  const address = dashboardUrl.startsWith('http://') ? dashboardUrl : `http://${dashboardUrl}`;
  const health =
    `python -c "import urllib.request; r=urllib.request.urlopen('${address}/api/gcs_healthz', timeout=10); ` +
    `exit(0 if b'success' in r.read() else 1)"`;
  return [
    'until',
    health,
    '>/dev/null',
    '2>&1',
    ';',
    'do',
    'echo',
    JSON.stringify(`Waiting for Ray Dashboard GCS to become healthy at ${address} ...`),
    ';',
    'sleep',
    '2',
    ';',
    'done',
    ';',
    'if',
    '!',
    ...['ray', 'job', 'status', '--address', address, jobId, '>/dev/null', '2>&1', ';', 'then'],
    ...['ray', 'job', 'submit', '--address', address, '--no-wait', '--submission-id', jobId],
    '--',
    entrypoint.trim(),
    ';',
    'fi',
    ';',
    ...['ray', 'job', 'logs', '--address', address, '--follow', jobId],
  ].join(' ');
}

/**
 * The RayJob's submitter pod (K8sJobMode): its submitterPodTemplate, or KubeRay's default
 * container on the head's image; the submit command when the container has none; the env.
 */
export function buildSubmitter(rayJob: Obj, cluster: KubeRayCluster, jobId: string, domain?: string): PodManifest {
  const dashboardUrl = `${headServiceFqdn(cluster, domain).replace(/\.$/, '')}:${DASHBOARD_PORT}`;
  const template: Obj = rayJob.spec.submitterPodTemplate
    ? clone(rayJob.spec.submitterPodTemplate)
    : {
        spec: {
          restartPolicy: 'Never',
          containers: [
            {
              name: 'ray-job-submitter',
              image: cluster.spec.headGroupSpec.template.spec.containers[0].image,
              resources: { limits: { cpu: '1', memory: '1Gi' }, requests: { cpu: '500m', memory: '200Mi' } },
            },
          ],
        },
      };
  const c = template.spec.containers[0] as Obj;
  if (!c.command?.length) {
    c.command = ['/bin/bash', '-ce', '--'];
    c.args = [jobSubmitCommand(dashboardUrl, jobId, rayJob.spec.entrypoint ?? '')];
  }
  addEnv(c, { name: 'PYTHONUNBUFFERED', value: '1' });
  addEnv(c, { name: 'RAY_DASHBOARD_ADDRESS', value: dashboardUrl });
  addEnv(c, { name: 'RAY_JOB_SUBMISSION_ID', value: jobId });
  if (authOn(cluster.spec)) tokenAuthEnv(c, cluster.name, cluster.spec.authOptions);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `${rayJob.metadata.name}-submitter`,
      namespace: cluster.namespace,
      labels: {
        ...(template.metadata?.labels ?? {}),
        'ray.io/originated-from-cr-name': rayJob.metadata.name,
        'ray.io/originated-from-crd': 'RayJob',
        'app.kubernetes.io/created-by': 'kuberay-operator',
      },
      annotations: { ...(template.metadata?.annotations ?? {}) },
    },
    spec: template.spec as PodManifest['spec'],
  };
}
