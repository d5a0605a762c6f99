// Deterministic generator of realistic ResourceLists for the benchmarks.
//
//   node bench/generate.mjs N OUTDIR [--seed S]
//
// writes OUTDIR/list.yaml (a kpt-style ResourceList: items at column 0, `- `
// entries), OUTDIR/kustomize/{resources.yaml,kustomization.yaml} (the same
// resources as a multi-document file plus one builtin JSON6902 patch that adds
// the TLS env to every Deployment) and OUTDIR/meta.json (counts, and how many
// items ray-tls should emit with the default config).
//
// The mix: Deployments with several containers and comments, Services (some
// selecting Ray pods), ConfigMaps with block scalars, a few other kinds, and
// about one item in ten a Ray pod carrier (Deployments, StatefulSets and Pods
// running `ray start`, Ray clients with RAY_ADDRESS=ray://..., KubeRay
// RayClusters), across several namespaces. Same N and seed, same bytes.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** mulberry32: small, fast, good enough for fixtures. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NAMESPACES = ['default', 'shop', 'payments', 'search', 'analytics', 'ml', 'django-ray', 'platform'];
const APPS = [
  'api',
  'web',
  'worker',
  'cart',
  'checkout',
  'catalog',
  'auth',
  'billing',
  'notifier',
  'indexer',
  'gateway',
  'reports',
];
const IMAGES = [
  'ghcr.io/acme/app',
  'registry.example.com/team/service',
  'docker.io/library/nginx',
  'quay.io/acme/backend',
];
const RAY_IMAGE = 'rayproject/ray:2.58.0';

/**
 * Generates N resources. Each resource is YAML text at column 0; `list` holds
 * them as ResourceList items, `stream` as a multi-document file.
 */
export function generate(n, seed = 1) {
  const r = rng(seed);
  const pick = (a) => a[Math.floor(r() * a.length)];
  const int = (lo, hi) => lo + Math.floor(r() * (hi - lo + 1));
  const chance = (p) => r() < p;

  const docs = [];
  const kinds = {};
  const rayNamespaces = new Set();
  let rayPods = 0;
  let clients = 0;
  /** Labels of Ray node pods per namespace, for Services to select. */
  const rayLabels = new Map();

  const count = (k) => (kinds[k] = (kinds[k] ?? 0) + 1);

  const probe = (port) => `readinessProbe:
  httpGet:
    path: /healthz
    port: ${port}
  initialDelaySeconds: ${int(1, 10)}
  periodSeconds: 10
`;

  /** A container at column 0 (the caller indents it). */
  const appContainer = (name, _i, envList) => {
    const port = pick([8000, 8080, 9090, 3000]);
    let c = `- name: ${name}
  image: ${pick(IMAGES)}:${int(1, 9)}.${int(0, 30)}.${int(0, 9)}
  imagePullPolicy: IfNotPresent
  ports:
  - containerPort: ${port}
    name: http
`;
    if (envList) {
      c += `  env:
  - name: LOG_LEVEL
    value: ${pick(['info', 'debug', 'warn'])}
  - name: FEATURE_FLAG
    value: "${pick(['on', 'off', 'yes', 'no'])}" # quoted: YAML 1.1 would read a boolean
  - name: POD_NAME
    valueFrom:
      fieldRef:
        fieldPath: metadata.name
`;
    }
    c += `  resources:
    requests: {cpu: ${int(1, 9)}00m, memory: ${int(1, 8) * 64}Mi}
    limits:
      memory: ${int(2, 16) * 64}Mi
`;
    if (chance(0.5)) c += indent(probe(port), 2);
    if (chance(0.4)) c += `  volumeMounts:\n  - name: config\n    mountPath: /etc/${name}\n    readOnly: true\n`;
    return c;
  };

  const sidecar = () =>
    pick([
      `- name: envoy # service mesh sidecar
  image: envoyproxy/envoy:v1.31.0
  args: ["--config-path", "/etc/envoy/envoy.yaml", "--log-level", "warn"]
  ports:
  - {containerPort: 15001, name: proxy}
`,
      `- name: log-shipper
  image: fluent/fluent-bit:3.0
  resources:
    limits: {memory: 64Mi}
`,
      `- name: metrics
  image: prom/statsd-exporter:v0.26.0
  args:
  - --statsd.mapping-config=/etc/statsd/mapping.yml
`,
    ]);

  const metadata = (name, ns, labels, extra = '') => {
    let m = `metadata:
  name: ${name}
  namespace: ${ns}
  labels:
${Object.entries(labels)
  .map(([k, v]) => `    ${k}: ${v}\n`)
  .join('')}`;
    if (chance(0.3))
      m += `  annotations:\n    owner: team-${pick(APPS)} # who to page\n    description: "${name} in ${ns}"\n`;
    return m + extra;
  };

  const deployment = (i, ns) => {
    const app = `${pick(APPS)}-${i}`;
    const labels = { app, tier: pick(['frontend', 'backend', 'batch']) };
    let containers = appContainer(pick(APPS), i, true);
    for (let k = int(0, 2); k > 0; k--) containers += sidecar();
    const volumes = `volumes:
- name: config
  configMap:
    name: ${app}-config
    defaultMode: 0644
`;
    return `# ${app}: generated deployment ${i}
apiVersion: apps/v1
kind: Deployment
${metadata(app, ns, labels)}spec:
  replicas: ${int(1, 6)}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      app: ${app}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 25%, maxUnavailable: 0}
  template:
    metadata:
      labels:
        app: ${app}
        tier: ${labels.tier}
    spec:
      serviceAccountName: ${app}
      # containers: the app first, then its sidecars
      containers:
${indent(containers, 6)}${indent(volumes, 6)}`;
  };

  const service = (i, ns) => {
    const nodes = rayLabels.get(ns);
    const selectRay = nodes?.length && chance(0.5);
    const app = selectRay ? pick(nodes) : `${pick(APPS)}-${int(0, Math.max(0, i))}`;
    const name = `${app}-svc-${i}`;
    const ports = selectRay
      ? `  - {name: gcs, port: 6379, targetPort: 6379}\n  - {name: client, port: 10001, targetPort: 10001}\n  - name: dashboard\n    port: 8265\n`
      : `  - name: http\n    port: 80\n    targetPort: http\n    protocol: TCP\n`;
    return `apiVersion: v1
kind: Service
${metadata(name, ns, { app })}spec:
  type: ${pick(['ClusterIP', 'ClusterIP', 'NodePort'])}
  selector:
    app: ${app}
  ports:
${ports}`;
  };

  const configMap = (i, ns) => {
    const name = `${pick(APPS)}-${i}-config`;
    return `apiVersion: v1
kind: ConfigMap
${metadata(name, ns, { app: name.replace(/-config$/, '') })}data:
  # plain and YAML 1.1 look-alike scalars
  enabled: "on"
  mode: ${pick(['on', 'off', 'yes', 'no', 'y', 'n'])}
  permissions: ${pick(['0644', '0755', '0600'])}
  version: ${pick(['1.10', '2.0', '3.14'])}
  settings.json: |
    {
      "name": "${name}",
      "replicas": ${int(1, 9)},
      "features": ["a", "b"]
    }
${
  chance(0.3)
    ? `  nginx.conf: |
    server {
      listen 80;
      location / {
        proxy_pass http://127.0.0.1:${pick([8000, 8080])};
      }
    }
`
    : ''
}  motd: >
    Welcome to ${name}.
    This text is folded
    into one line.
`;
  };

  const other = (i, ns) => {
    const app = `${pick(APPS)}-${i}`;
    switch (int(0, 2)) {
      case 0:
        return `apiVersion: v1
kind: ServiceAccount
${metadata(app, ns, { app })}automountServiceAccountToken: false
`;
      case 1:
        return `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
${metadata(app, ns, { app })}spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: ${app}}
  minReplicas: 2
  maxReplicas: ${int(3, 20)}
  metrics:
  - type: Resource
    resource:
      name: cpu
      target: {type: Utilization, averageUtilization: 70}
`;
      default:
        return `apiVersion: policy/v1
kind: PodDisruptionBudget
${metadata(app, ns, { app })}spec:
  maxUnavailable: 1
  selector:
    matchLabels:
      app: ${app}
`;
    }
  };

  /** A Ray pod carrier; records what ray-tls will emit for it. */
  const ray = (i, ns) => {
    rayPods++;
    rayNamespaces.add(ns);
    const roll = r();
    const nodeLabels = (app) => {
      if (!rayLabels.has(ns)) rayLabels.set(ns, []);
      rayLabels.get(ns).push(app);
    };
    if (roll < 0.35) {
      const head = chance(0.4);
      const app = `ray-${head ? 'head' : 'worker'}-${i}`;
      nodeLabels(app);
      const start = head
        ? `command: ["ray", "start", "--head", "--port=6379", "--ray-client-server-port=10001", "--dashboard-host=0.0.0.0", "--block"]\n`
        : `command:\n  - /bin/bash\n  - -lc\n  - ray start --address=ray-head-svc:6379 --num-cpus=$(nproc) --block\n`;
      return `# ${app}: Ray node
apiVersion: apps/v1
kind: Deployment
${metadata(app, ns, { app, 'ray.io/node-type': head ? 'head' : 'worker' })}spec:
  replicas: ${head ? 1 : int(2, 8)}
  selector:
    matchLabels:
      app: ${app}
  template:
    metadata:
      labels:
        app: ${app}
    spec:
      containers:
      - name: ray
        image: ${RAY_IMAGE}
${indent(start, 8)}        env:
        - name: RAY_memory_monitor_refresh_ms
          value: "0"
        ports:
        - containerPort: 6379
        - containerPort: 10001
        resources:
          limits: {cpu: "${int(1, 8)}", memory: ${int(2, 16)}Gi}
${chance(0.5) ? indent(sidecar(), 6) : ''}`;
    }
    if (roll < 0.6) {
      clients++;
      const app = `django-ray-worker-${i}`;
      return `# ${app}: a Ray client (Django-Ray worker)
apiVersion: apps/v1
kind: Deployment
${metadata(app, ns, { app })}spec:
  replicas: ${int(1, 4)}
  selector:
    matchLabels: {app: ${app}}
  template:
    metadata:
      labels: {app: ${app}}
    spec:
      containers:
      - name: worker
        image: ghcr.io/acme/django-ray:${int(1, 5)}.${int(0, 9)}
        command: [python, manage.py, ray_worker]
        env:
        - name: RAY_ADDRESS
          value: ray://ray-head-svc.${ns}:10001
        - name: DJANGO_SETTINGS_MODULE
          value: config.settings.production
${indent(sidecar(), 6)}`;
    }
    if (roll < 0.75) {
      const app = `ray-workers-${i}`;
      nodeLabels(app);
      return `apiVersion: apps/v1
kind: StatefulSet
${metadata(app, ns, { app })}spec:
  serviceName: ${app}
  replicas: ${int(2, 6)}
  selector:
    matchLabels: {app: ${app}}
  template:
    metadata:
      labels:
        app: ${app}
    spec:
      containers:
      - name: ray-worker
        image: ${RAY_IMAGE}
        args:
        - ray
        - start
        - --address=ray-head-svc:6379
        - --block
        volumeMounts:
        - {name: scratch, mountPath: /tmp/ray}
      volumes:
      - name: scratch
        emptyDir: {}
`;
    }
    if (roll < 0.9) {
      const app = `raycluster-${i}`;
      nodeLabels(app);
      return `apiVersion: ray.io/v1
kind: RayCluster
${metadata(app, ns, { app })}spec:
  rayVersion: "2.58.0"
  headGroupSpec:
    rayStartParams:
      dashboard-host: "0.0.0.0"
    template:
      metadata:
        labels: {app: ${app}}
      spec:
        containers:
        - name: ray-head
          image: ${RAY_IMAGE}
          ports:
          - {containerPort: 6379, name: gcs-server}
          - {containerPort: 10001, name: client}
  workerGroupSpecs:
  - groupName: cpu
    replicas: ${int(1, 4)}
    minReplicas: 1
    maxReplicas: 10
    rayStartParams: {}
    template:
      spec:
        containers:
        - name: ray-worker
          image: ${RAY_IMAGE}
          resources:
            limits: {cpu: "2", memory: 4Gi}
`;
    }
    const app = `ray-pod-${i}`;
    nodeLabels(app);
    return `apiVersion: v1
kind: Pod
${metadata(app, ns, { app })}spec:
  restartPolicy: Always
  containers:
  - name: ray
    image: ${RAY_IMAGE}
    command: ["ray", "start", "--head", "--block"]
`;
  };

  for (let i = 0; i < n; i++) {
    const ns = pick(NAMESPACES);
    const roll = r();
    let doc;
    if (roll < 0.1) doc = ray(i, ns);
    else if (roll < 0.45) doc = deployment(i, ns);
    else if (roll < 0.65) doc = service(i, ns);
    else if (roll < 0.9) doc = configMap(i, ns);
    else doc = other(i, ns);
    count(/^kind: (\w+)$/m.exec(doc)[1]);
    docs.push(doc);
  }

  const list = `apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n${docs.map(asItem).join('')}`;
  const stream = docs.map((d) => `---\n${d}`).join('');
  // Default config: per namespace with Ray pods a self-signed Issuer, the CA
  // Certificate and the CA Issuer; one client Certificate per client workload.
  const emitted = 3 * rayNamespaces.size + clients;
  return {
    list,
    stream,
    meta: {
      n,
      seed,
      bytes: Buffer.byteLength(list),
      kinds,
      rayPods,
      clients,
      rayNamespaces: rayNamespaces.size,
      emitted,
      expectedItems: n + emitted,
    },
  };
}

/** Indents every non-empty line. */
function indent(text, by) {
  const pad = ' '.repeat(by);
  return text.replace(/^(?=.)/gm, pad);
}

/** A document at column 0 as a kpt-style item: a leading comment becomes `- # comment`. */
function asItem(doc) {
  const body = indent(doc, 2);
  return `-${body.slice(1)}`;
}

export const KUSTOMIZATION = `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- resources.yaml
# The builtin equivalent of the function's env injection: every Deployment's
# first container gets the TLS env (each generated Deployment has an env list).
patches:
- target:
    kind: Deployment
  patch: |-
    - op: add
      path: /spec/template/spec/containers/0/env/-
      value: {name: RAY_USE_TLS, value: "1"}
    - op: add
      path: /spec/template/spec/containers/0/env/-
      value: {name: RAY_TLS_SERVER_CERT, value: /etc/ray/tls/tls.crt}
    - op: add
      path: /spec/template/spec/containers/0/env/-
      value: {name: RAY_TLS_SERVER_KEY, value: /etc/ray/tls/tls.key}
    - op: add
      path: /spec/template/spec/containers/0/env/-
      value: {name: RAY_TLS_CA_CERT, value: /etc/ray/tls/ca.crt}
`;

/** Writes list.yaml, kustomize/ and meta.json under dir; returns the meta. */
export function writeFixture(dir, n, seed = 1) {
  const { list, stream, meta } = generate(n, seed);
  mkdirSync(join(dir, 'kustomize'), { recursive: true });
  writeFileSync(join(dir, 'list.yaml'), list);
  writeFileSync(join(dir, 'kustomize', 'resources.yaml'), stream);
  writeFileSync(join(dir, 'kustomize', 'kustomization.yaml'), KUSTOMIZATION);
  writeFileSync(join(dir, 'meta.json'), `${JSON.stringify(meta, null, 2)}\n`);
  return meta;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const seedAt = args.indexOf('--seed');
  const seed = seedAt === -1 ? 1 : Number(args.splice(seedAt, 2)[1]);
  const [n, dir] = args;
  if (!n || !dir || !Number.isInteger(Number(n)) || !Number.isInteger(seed)) {
    process.stderr.write('usage: node bench/generate.mjs N OUTDIR [--seed S]\n');
    process.exit(2);
  }
  const meta = writeFixture(dir, Number(n), seed);
  process.stdout.write(`${JSON.stringify(meta)}\n`);
}
