// The pod-edit filters, each alone: what one concern plans for a pod, before anything is written.
import { describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { readConfig } from '../../src/config/config.js';
import { autoscaler } from '../../src/function/filters/autoscaler.js';
import { NO_EDITS } from '../../src/function/filters/edits.js';
import { FILTERS } from '../../src/function/filters/index.js';
import { trust } from '../../src/function/filters/trust.js';
import { planFrom } from '../../src/function/plan.js';
import { type Resource, readResource } from '../../src/krm/resource.js';
import type { Item } from '../../src/krm/resourceList.js';
import { findRayPods } from '../../src/ray/pods.js';
import { podFacts } from '../../src/tls/facts.js';
import { Editor } from '../../src/yaml/edit.js';
import type { Json } from '../../src/yaml/json.js';

const CLUSTER = `apiVersion: ray.io/v1
kind: RayCluster
metadata: {name: demo, namespace: ray}
spec:
  enableInTreeAutoscaling: true
  headGroupSpec:
    template:
      spec:
        containers: [{name: ray-head, image: rayproject/ray:2.58.0}]
`;

const DEPLOYMENT = `apiVersion: apps/v1
kind: Deployment
metadata: {name: ray-head, namespace: ray}
spec:
  template:
    spec:
      containers: [{name: ray-head, image: rayproject/ray:2.58.0, command: [ray, start, --head, --block]}]
`;

/** The head pod's facts and the plan of a config. */
function head(config: Record<string, Json>, text = CLUSTER) {
  const plan = planFrom(readConfig({ kind: 'ConfigMap', data: config }));
  const doc = parseDocument(text);
  const resource = readResource(doc.toJS()) as Resource;
  const item = { node: doc.contents, doc, editor: new Editor(text), position: 0 } as unknown as Item;
  const [pod] = findRayPods([{ resource, source: item }], {}).pods;
  return { pod: podFacts(pod, [], plan.pods), plan };
}

describe('the trust filter asks the kind of the certificate volume', () => {
  it('a Secret volume (pod-dns): the Secret moves to an init container, which writes the bundle', () => {
    const { pod, plan } = head({ mode: 'pod-dns', 'ca.trust': 'old-ca' });
    const before = { ...NO_EDITS, volumes: [{ name: 'ray-tls', secret: { secretName: 'ray-tls-nodes' } }] };
    const after = trust(before, pod, plan);
    expect(after.volumes.map((v) => (v as { name: string }).name)).toEqual([
      'ray-tls',
      'ray-tls-secret',
      'ray-tls-trust',
    ]);
    expect(after.volumes[0]).toEqual({ name: 'ray-tls', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } });
    expect(after.initContainers.map((c) => c.what)).toEqual(['trust']);
  });

  it('a volume its own init container fills (per-pod): only the trusted CAs volume, no other container', () => {
    const { pod, plan } = head({ 'ca.trust': 'old-ca' });
    const after = trust({ ...NO_EDITS, volumes: [{ name: 'ray-tls', emptyDir: {} }] }, pod, plan);
    expect(after.volumes.map((v) => (v as { name: string }).name)).toEqual(['ray-tls', 'ray-tls-trust']);
    expect(after.initContainers).toEqual([]);
  });

  it('a mode that declares a Secret volume and gives none is a bug, not a pod to render', () => {
    const { pod, plan } = head({ mode: 'shared', 'ca.trust': 'old-ca' });
    expect(() => trust({ ...NO_EDITS, volumes: [{ name: 'ray-tls', emptyDir: {} }] }, pod, plan)).toThrow(
      'the certificate volume ray-tls is declared a Secret and is none',
    );
  });

  it('no ca.trust: what a rotation added before is stale, nothing is added', () => {
    const { pod, plan } = head({});
    const after = trust(NO_EDITS, pod, plan);
    expect(after.stale).toEqual({
      volumes: ['ray-tls-trust', 'ray-tls-secret'],
      initContainers: ['ray-tls-trust'],
      env: [],
    });
    expect(after.volumes).toEqual([]);
  });
});

describe('the filters in order', () => {
  it('plan the env of every Ray process (TLS, then auth) and the autoscaler takes the same', () => {
    const { pod, plan } = head({ auth: 'token' });
    const edits = FILTERS.reduce((e, f) => f(e, pod, plan), NO_EDITS);
    const names = (env: Json[]) => env.map((e) => (e as { name: string }).name);
    const TLS = ['RAY_USE_TLS', 'RAY_TLS_SERVER_CERT', 'RAY_TLS_SERVER_KEY', 'RAY_TLS_CA_CERT'];
    // A KubeRay cluster's token comes through its authOptions (tls/kubeRayAuth.ts), not env of ours.
    expect(names(edits.env)).toEqual(TLS);
    const plain = head({ auth: 'token' }, DEPLOYMENT);
    const plainEdits = FILTERS.reduce((e, f) => f(e, plain.pod, plain.plan), NO_EDITS);
    expect(names(plainEdits.env)).toEqual([...TLS, 'RAY_AUTH_MODE', 'RAY_AUTH_TOKEN_PATH']);
    expect(edits.initContainers.map((c) => c.what)).toEqual(['certificate']);
    // The autoscaler's edit and the marker come after the lists; with the token (not KubeRay's), the check
    // for a RAY_AUTH_TOKEN of the user's too.
    expect(edits.after).toHaveLength(2);
    expect(plainEdits.after).toHaveLength(2);
    expect(autoscaler(NO_EDITS, { ...pod, autoscaler: undefined }, plan).after).toEqual([]);
  });
});
