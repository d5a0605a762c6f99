// The corpus: small hand-written inputs (test/corpus/<case>/input.yaml), one per way real
// Ray manifests went wrong (each names the public file that showed it). For every input in
// both modes the invariants hold (valid YAML out, every Ray container has TLS or a result
// says why, non-Ray items byte-identical, a second run changes nothing); then each case's
// own fact, written by hand.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { run } from '../src/function/run.js';
import { checkInvariants } from './support/invariants.mjs';

type Obj = Record<string, any>;
const root = join(import.meta.dirname, 'corpus');
const cases = readdirSync(root).sort();
const input = (name: string) => readFileSync(join(root, name, 'input.yaml'), 'utf8');

/** The input with a mode (and, for pod-dns, a namespace where an item lacks one: pod DNS names need it). */
function inMode(text: string, mode: string): string {
  // logLevel: the template-name case has a mapping as a key, which yaml would warn about on stderr.
  const list = parse(text, { logLevel: 'error' }) as Obj;
  if (list.functionConfig) return text;
  if (mode === 'pod-dns')
    for (const item of list.items ?? [])
      if (item?.metadata && typeof item.metadata === 'object' && !('namespace' in item.metadata))
        item.metadata.namespace = 'ray';
  list.functionConfig = {
    apiVersion: 'ray-tls.io/v1alpha1',
    kind: 'RayTLS',
    metadata: { name: 'corpus' },
    spec: { mode },
  };
  return stringify(list, { version: '1.1', lineWidth: 0, indentSeq: false });
}

describe.each(cases)('corpus %s', (name) => {
  it.each(['per-pod', 'pod-dns'])('keeps the invariants in %s mode', (mode) => {
    const text = inMode(input(name), mode);
    const first = run(text);
    const second = first.exitCode === 0 ? run(first.stdout).stdout : '';
    expect(checkInvariants(text, first.stdout || text, second, first.exitCode)).toEqual([]);
    expect(first.stderr.join('\n')).not.toMatch(/\n\s+at |TypeError|ReferenceError/);
  });
});

const out = (name: string, mode = 'per-pod') => {
  const r = run(inMode(input(name), mode));
  return { ...r, list: r.stdout ? (parse(r.stdout) as Obj) : undefined };
};
const item = (list: Obj, kind: string) => (list.items as Obj[]).find((i) => i.kind === kind)!;
const envNames = (c: Obj) => (c.env ?? []).map((e: Obj) => e.name);

describe('each corpus case, by hand', () => {
  it('empty-pod-keys: empty metadata, env, volumeMounts, volumes and initContainers get block values', () => {
    const r = out('empty-pod-keys');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).not.toMatch(/^\s*\w+:[{[]/m);
    const template = item(r.list!, 'RayCluster').spec.headGroupSpec.template;
    expect(template.metadata.annotations['ray-tls.io/injected']).toBe('per-pod/node');
    expect(envNames(template.spec.containers[0])).toContain('RAY_USE_TLS');
    expect(template.spec.containers[0].volumeMounts).toEqual([
      { name: 'ray-tls', mountPath: '/etc/ray/tls', readOnly: true },
    ]);
    expect(template.spec.initContainers.map((c: Obj) => c.name)).toEqual(['ray-tls-init']);
    expect(template.spec.volumes.map((v: Obj) => v.name)).toEqual(['ray-tls', 'ray-tls-ca']);
  });

  it('empty-ray-start-params: pod-dns fills an empty rayStartParams', () => {
    const r = out('empty-ray-start-params', 'pod-dns');
    expect(r.exitCode).toBe(0);
    const cluster = item(r.list!, 'RayCluster').spec;
    expect(cluster.headGroupSpec.rayStartParams['node-ip-address']).toContain('.pod.cluster.local');
  });

  it('autoscaler-no-tls: the in-tree autoscaler gets the TLS env and the mount, and the result says so', () => {
    const r = out('autoscaler-no-tls');
    const options = item(r.list!, 'RayCluster').spec.autoscalerOptions;
    expect(envNames(options)).toEqual(
      expect.arrayContaining(['RAY_USE_TLS', 'RAY_TLS_SERVER_CERT', 'RAY_TLS_SERVER_KEY', 'RAY_TLS_CA_CERT']),
    );
    expect(options.volumeMounts).toContainEqual({ name: 'ray-tls', mountPath: '/etc/ray/tls', readOnly: true });
    expect(r.results.map((x) => x.message).join('\n')).toMatch(
      /in-tree autoscaler gets the TLS env and mount through spec.autoscalerOptions/,
    );
  });

  it('raycronjob-skipped: a RayCronJob cluster gets TLS', () => {
    const r = out('raycronjob-skipped');
    const job = item(r.list!, 'RayCronJob').spec.jobTemplate;
    expect(job.rayClusterSpec.headGroupSpec.template.spec.initContainers[0].name).toBe('ray-tls-init');
    expect(envNames(job.rayClusterSpec.headGroupSpec.template.spec.containers[0])).toContain('RAY_USE_TLS');
  });

  it(
    'rayservice-head-service: the head certificate learns its cluster name at run time; no advice KubeRay ' + 'rejects',
    () => {
      const r = out('rayservice-head-service');
      const init = item(r.list!, 'RayService').spec.rayClusterConfig.headGroupSpec.template.spec.initContainers[0];
      expect(init.env).toContainEqual({
        name: 'CERT_RAY_CLUSTER',
        valueFrom: { fieldRef: { fieldPath: "metadata.labels['ray.io/cluster']" } },
      });
      expect(r.results.map((x) => x.message).join('\n')).not.toMatch(/headService\.metadata\.name/);
      const podDns = out('rayservice-head-service', 'pod-dns');
      const nodes = (podDns.list!.items as Obj[]).find(
        (i) => i.kind === 'Certificate' && i.metadata.name === 'ray-tls-nodes',
      )!;
      expect(nodes.spec.dnsNames).toContain('*.ray.svc.cluster.local');
    },
  );

  it("tls-options-enabled: KubeRay's own TLS is left to the operator, with a result", () => {
    const r = out('tls-options-enabled');
    expect(JSON.stringify(r.list!.items)).not.toContain('RAY_USE_TLS');
    expect(r.results.find((x) => /tlsOptions/.test(x.message))?.field?.path).toBe('spec.tlsOptions.enabled');
  });

  it('sidecar-first-exec-form: the init container runs on the Ray image, not the sidecar', () => {
    const r = out('sidecar-first-exec-form');
    const spec = item(r.list!, 'Deployment').spec.template.spec;
    const ray = spec.containers.find((c: Obj) => JSON.stringify(c.command ?? []).includes('ray'));
    expect(spec.initContainers[0].image).toBe(ray.image);
    expect(spec.initContainers[0].image).not.toBe(spec.containers[0].image);
  });

  it('bash-c-dashdash: pod-dns rewrites `bash -c --` with the script in args', () => {
    const r = out('bash-c-dashdash', 'pod-dns');
    expect(r.exitCode).toBe(0);
    const c = item(r.list!, 'Deployment').spec.template.spec.containers[0];
    expect(c.command).toEqual(['/bin/bash', '-c', '--']);
    expect(c.args[0]).toMatch(/ray start --node-ip-address="\$\(echo "\$RAY_TLS_POD_IP"/);
  });

  it('echo-ray-start: words in an echo are no Ray start', () => {
    const r = out('echo-ray-start');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).not.toContain('ray-tls-init');
    expect(r.results.map((x) => x.message)).toContain(
      'no Ray pods found: nothing changed (a Ray node runs `ray start`; a client sets a ray:// address)',
    );
  });

  it('extensions-deployment: an extensions/v1beta1 Deployment is handled like the other workloads', () => {
    const r = out('extensions-deployment');
    expect(item(r.list!, 'Deployment').spec.template.spec.initContainers[0].name).toBe('ray-tls-init');
  });

  it('generate-name: a RayJob named by generateName gets TLS, its submitter certificate named after the prefix', () => {
    const r = out('generate-name');
    expect(r.exitCode).toBe(0);
    const job = item(r.list!, 'RayJob');
    expect(job.metadata).toEqual({ generateName: 'nightly-job-' });
    expect(job.spec.rayClusterSpec.headGroupSpec.template.spec.initContainers[0].name).toBe('ray-tls-init');
  });

  it('template-name: an unrendered {{.Name}} is refused with what is wrong and how to fix it', () => {
    const r = out('template-name');
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toEqual([
      'error: items[0] metadata.name must be a string, got {"{ .Name }":null} ' +
        '(a template placeholder such as {{.Name}}? render the template first)',
    ]);
  });

  it('template-string and namespace-number: one line naming the item and the field, no stack trace', () => {
    const t = out('template-string');
    expect(t.exitCode).toBe(1);
    expect(t.stderr).toEqual([
      expect.stringMatching(
        /^error: RayCluster .*spec\.headGroupSpec\.template must be a pod template \(a mapping\), not a string$/,
      ),
    ]);
    const n = out('namespace-number');
    expect(n.exitCode).toBe(1);
    expect(n.stderr).toEqual(['error: items[0] metadata.namespace must be a string, got 2024: quote it']);
  });
});
