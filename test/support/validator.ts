// The validator tests' fixture: Ray pods of every kind (Deployments running `ray start` in exec
// and shell form, a sidecar, a Ray client, a KubeRay RayCluster with the in-tree autoscaler, a
// RayJob with a submitter, a RayService), and the run helpers that render and validate it.
import { expect } from 'vitest';
import { parseDocument } from 'yaml';
import { run } from '../../src/function/run.js';
import type { Result } from '../../src/krm/results.js';

// biome-ignore lint/suspicious/noExplicitAny: test data read back from YAML
export type Obj = Record<string, any>;

export const FIXTURE = `apiVersion: config.kubernetes.io/v1
kind: ResourceList
items:
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: ray-head, namespace: ray}
  spec:
    selector: {matchLabels: {app: ray-head}}
    template:
      # The sidecar reads Ray's files (ray-tls gives only containers that talk to Ray the TLS env).
      metadata: {labels: {app: ray-head}, annotations: {ray-tls.io/ray-containers: log-shipper}}
      spec:
        containers:
        - name: ray-head
          image: rayproject/ray:2.58.0
          args: [ray, start, --head, --port=6379, --block]
        - name: log-shipper
          image: fluent/fluent-bit:3.0
- apiVersion: v1
  kind: Service
  metadata: {name: ray-head, namespace: ray}
  spec:
    selector: {app: ray-head}
    ports: [{name: gcs, port: 6379}]
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: ray-worker, namespace: ray}
  spec:
    selector: {matchLabels: {app: ray-worker}}
    template:
      metadata: {labels: {app: ray-worker}}
      spec:
        securityContext: {fsGroup: 1000}
        containers:
        - name: ray-worker
          image: rayproject/ray:2.58.0
          command: [bash, -lc, "ulimit -n 65536 && exec ray start --address=ray-head:6379 --block"]
          securityContext: {runAsUser: 1000}
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: app, namespace: ray}
  spec:
    selector: {matchLabels: {app: app}}
    template:
      metadata: {labels: {app: app}}
      spec:
        containers:
        - name: app
          image: example/app:1
          env: [{name: RAY_ADDRESS, value: "ray://ray-head:10001"}]
- apiVersion: ray.io/v1
  kind: RayCluster
  metadata: {name: rc, namespace: ray}
  spec:
    rayVersion: "2.58.0"
    enableInTreeAutoscaling: true
    headGroupSpec:
      rayStartParams: {dashboard-host: "0.0.0.0"}
      template:
        spec:
          containers: [{name: ray-head, image: "rayproject/ray:2.58.0"}]
    workerGroupSpecs:
    - groupName: cpu
      rayStartParams: {}
      template:
        spec:
          containers: [{name: ray-worker, image: "rayproject/ray:2.58.0"}]
- apiVersion: ray.io/v1
  kind: RayJob
  metadata: {name: rj, namespace: ray}
  spec:
    entrypoint: python -c "import ray; ray.init()"
    rayClusterSpec:
      headGroupSpec:
        template:
          spec:
            containers: [{name: ray-head, image: "rayproject/ray:2.58.0"}]
    submitterPodTemplate:
      spec:
        restartPolicy: Never
        containers: [{name: submitter, image: "rayproject/ray:2.58.0"}]
- apiVersion: ray.io/v1
  kind: RayService
  metadata: {name: rs, namespace: ray}
  spec:
    rayClusterConfig:
      headGroupSpec:
        template:
          spec:
            containers: [{name: ray-head, image: "rayproject/ray:2.58.0"}]
      workerGroupSpecs:
      - groupName: w
        template:
          spec:
            containers: [{name: ray-worker, image: "rayproject/ray:2.58.0"}]
`;

/** Every mode and option: each config's render of every fixture must validate clean. */
export const CONFIGS: Record<string, Obj> = {
  'per-pod (default)': {},
  'auth: token': { auth: 'token' },
  'pod-dns': { mode: 'pod-dns' },
  'pod-dns, auth, trust': { mode: 'pod-dns', auth: 'token', ca: { trust: ['old-ca'] } },
  shared: { mode: 'shared' },
  'shared, trust': { mode: 'shared', ca: { trust: ['old-ca'] } },
  'ca.trust': { ca: { trust: ['old-ca', 'older-ca'] } },
  'ca.issuerRef': { ca: { issuerRef: { name: 'corp-ca', kind: 'ClusterIssuer' } } },
  'ca.secretName': { ca: { secretName: 'my-ca' } },
  'certManager: false': { certManager: false, ca: { secretName: 'my-ca' } },
  initImage: { initImage: 'example/ray-tls-init:1' },
  mountPath: { mountPath: '/var/run/ray-tls' },
  'ECDSA, short leaves': { privateKey: { algorithm: 'ECDSA', size: 384 }, duration: '720h', renewBefore: '240h' },
  clientSelector: { clientSelector: { matchLabels: { app: 'app' } }, clusterDomain: 'corp.example' },
};

export const withConfig = (list: string, spec: Obj | undefined): string => {
  const doc = parseDocument(list);
  if (spec === undefined) doc.delete('functionConfig');
  else doc.set('functionConfig', { apiVersion: 'ray-tls.io/v1alpha1', kind: 'RayTLS', metadata: { name: 'c' }, spec });
  doc.delete('results');
  return doc.toString();
};

/** The function's own output for a list under a config (the config stays in it, as a validator reads it). */
export function render(list: string, spec: Obj = {}): string {
  const out = run(withConfig(list, spec));
  expect(out.exitCode, out.stderr.join('\n')).toBe(0);
  return out.stdout;
}

export const validate = (list: string) => run(list, undefined, true);
export const problems = (results: Result[]) => results.filter((r) => r.severity === 'error' && r.resourceRef);
