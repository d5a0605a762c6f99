// The facts each golden example exists to show, written by hand from the domain rules.
// test/golden.test.ts pins every byte of the output; this file states what matters in
// it, so that regenerating the goldens (npm run examples:update) cannot quietly bless a
// regression: the SANs, the init container's place and image, who gets a client
// certificate, what must not change. Every directory in test/examples needs an entry
// here: a new example without facts fails.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isSeq, parse, parseDocument } from 'yaml';
import { type RunOutput, run } from '../src/function/run.js';

type Obj = Record<string, any>;

const EXAMPLES = join(import.meta.dirname, 'examples');
const DIR = '/etc/ray/tls';
const CLUSTER = 'cluster.local';
/** What pod-dns puts after `--node-ip-address=`: the pod IP with dashes, the namespace, `pod`, the cluster domain. */
const POD_DNS_NAME = '"$(echo "$RAY_TLS_POD_IP" | tr .: --).$RAY_TLS_POD_NAMESPACE.pod.cluster.local"';
const MANAGED = { 'app.kubernetes.io/managed-by': 'ray-tls' };

interface Case {
  name: string;
  input: string;
  out: RunOutput;
  inItems: Obj[];
  items: Obj[];
  results: Obj[];
}

function load(name: string): Case {
  const input = readFileSync(join(EXAMPLES, name, 'input.yaml'), 'utf8');
  const out = run(input);
  const list = parse(out.stdout) as Obj;
  return { name, input, out, inItems: (parse(input) as Obj).items, items: list.items, results: list.results ?? [] };
}

const idOf = (i: Obj) => `${i.kind}/${i.metadata?.namespace ?? ''}/${i.metadata?.name}`;

/** The one item with this kind, name and namespace (fails when there are none or several). */
function one(items: Obj[], kind: string, name: string, namespace?: string): Obj {
  const found = items.filter(
    (i) => i.kind === kind && i.metadata?.name === name && i.metadata?.namespace === namespace,
  );
  expect(found.map(idOf), `${kind}/${namespace ?? ''}/${name}`).toEqual([`${kind}/${namespace ?? ''}/${name}`]);
  return found[0] as Obj;
}

/** The source text of each input item, as the user wrote it. */
function itemTexts(input: string): string[] {
  const doc = parseDocument(input);
  const seq = doc.get('items', true);
  if (!isSeq(seq)) throw new Error('input has no items sequence');
  return seq.items.map((n) => {
    const range = (n as { range?: [number, number, number] }).range;
    if (!range) throw new Error('item without a source range');
    return input.slice(range[0], range[1]);
  });
}

/** These input items come out byte for byte as written, and parse to the same values. */
function expectUntouched(c: Case, ids: string[]): void {
  const texts = itemTexts(c.input);
  expect(ids.length).toBeGreaterThan(0);
  for (const id of ids) {
    const i = c.inItems.findIndex((x) => idOf(x) === id);
    expect(i, `${id} is an input item`).toBeGreaterThanOrEqual(0);
    expect(c.out.stdout, `${id} kept byte for byte`).toContain(texts[i]);
    expect(
      c.items.find((x) => idOf(x) === id),
      id,
    ).toEqual(c.inItems[i]);
  }
}

/** No input item lost or reordered: the output starts with the input items, and whatever follows is ray-tls's own. */
function expectOrderKept(c: Case): void {
  expect(c.items.slice(0, c.inItems.length).map(idOf)).toEqual(c.inItems.map(idOf));
  for (const added of c.items.slice(c.inItems.length)) {
    expect(added.apiVersion, idOf(added)).toBe('cert-manager.io/v1');
    expect(added.metadata.labels, idOf(added)).toEqual(MANAGED);
  }
}

/** An error example: exit 1, every item exactly as given (text and values), nothing added. */
function expectNothingChanged(
  c: Case,
  last: Obj = { severity: 'info', message: 'nothing was changed: fix the errors above and run again' },
): void {
  expect(c.out.exitCode).toBe(1);
  expect(c.items).toEqual(c.inItems);
  for (const text of itemTexts(c.input)) expect(c.out.stdout).toContain(text);
  expect(c.results.at(-1)).toEqual(last);
}

const errorsOf = (c: Case) => c.results.filter((r) => r.severity === 'error');
const warningsOf = (c: Case) => c.results.filter((r) => r.severity === 'warning');
const newItems = (c: Case) => c.items.slice(c.inItems.length);

const tlsEnv = (dir: string) => [
  { name: 'RAY_USE_TLS', value: '1' },
  { name: 'RAY_TLS_SERVER_CERT', value: `${dir}/tls.crt` },
  { name: 'RAY_TLS_SERVER_KEY', value: `${dir}/tls.key` },
  { name: 'RAY_TLS_CA_CERT', value: `${dir}/ca.crt` },
];

/** A container with the four RAY_*TLS* variables under dir and the read-only mount of the ray-tls volume. */
function expectTlsContainer(container: Obj, dir = DIR): void {
  expect(container.env, container.name).toEqual(expect.arrayContaining(tlsEnv(dir)));
  expect(container.volumeMounts, container.name).toContainEqual({ name: 'ray-tls', mountPath: dir, readOnly: true });
  expect(
    (container.volumeMounts ?? []).map((m: Obj) => m.name),
    `${container.name} never mounts the CA`,
  ).not.toContain('ray-tls-ca');
}

function envValue(container: Obj, name: string): unknown {
  const hits = (container.env ?? []).filter((e: Obj) => e.name === name);
  expect(hits.length, `${container.name} env ${name}`).toBe(1);
  return hits[0].value ?? hits[0].valueFrom;
}

/**
 * A per-pod Ray node: ray-tls-init first among the init containers, on `image`, issuing
 * into dir for exactly these Services; the CA Secret mounted into it and nowhere else;
 * every container with the TLS env and read-only mount.
 */
function expectPerPodNode(
  spec: Obj,
  want: { image: string; services: string[]; dir?: string; caSecret?: string },
): Obj {
  const dir = want.dir ?? DIR;
  const init = spec.initContainers[0];
  expect(init.name).toBe('ray-tls-init');
  expect(spec.initContainers.filter((c: Obj) => c.name === 'ray-tls-init')).toHaveLength(1);
  expect(init.image).toBe(want.image);
  expect(String(envValue(init, 'CERT_SERVICES')).split(/\s+/).filter(Boolean).sort()).toEqual(
    [...want.services].sort(),
  );
  expect(envValue(init, 'CERT_DIR')).toBe(dir);
  expect(envValue(init, 'POD_IP')).toEqual({ fieldRef: { fieldPath: 'status.podIP' } });
  expect(init.volumeMounts).toContainEqual({ name: 'ray-tls', mountPath: dir });
  expect(init.volumeMounts).toContainEqual({ name: 'ray-tls-ca', mountPath: '/etc/ray/tls-ca', readOnly: true });
  const volumes = Object.fromEntries(spec.volumes.map((v: Obj) => [v.name, v]));
  expect(volumes['ray-tls'].emptyDir.medium).toBe('Memory');
  expect(volumes['ray-tls-ca'].secret.secretName).toBe(want.caSecret ?? 'ray-tls-ca');
  // A sidecar that does not talk to Ray (the kuberay example's log-shipper) gets nothing.
  for (const c of spec.containers) if (c.name !== 'log-shipper') expectTlsContainer(c, dir);
  return init;
}

/** A Ray client: its own client certificate Secret, no init container, never the CA. */
function expectClientPod(spec: Obj, workload: string, dir = DIR): void {
  expect(spec.initContainers ?? []).toEqual([]);
  expect(spec.volumes).toContainEqual({ name: 'ray-tls', secret: { secretName: `${workload}-ray-tls-client` } });
  expect(JSON.stringify(spec.volumes)).not.toContain('ray-tls-ca');
  for (const c of spec.containers) expectTlsContainer(c, dir);
}

/** The client Certificate `<workload>-ray-tls-client`: client auth, never server auth, from the namespace CA Issuer. */
function expectClientCertificate(c: Case, workload: string, namespace: string | undefined): void {
  const cert = one(c.items, 'Certificate', `${workload}-ray-tls-client`, namespace);
  expect(cert.spec.secretName).toBe(`${workload}-ray-tls-client`);
  expect(cert.spec.usages).toContain('client auth');
  expect(cert.spec.usages).not.toContain('server auth');
  expect(cert.spec.isCA).toBeUndefined();
  expect(cert.spec.issuerRef).toEqual({ name: 'ray-tls-ca', kind: 'Issuer', group: 'cert-manager.io' });
}

/** The default chain: a self-signed bootstrap Issuer, the CA Certificate it signs, the CA Issuer on its Secret. */
function expectDefaultChain(c: Case, namespace: string | undefined): void {
  expect(one(c.items, 'Issuer', 'ray-tls-selfsigned', namespace).spec).toEqual({ selfSigned: {} });
  const ca = one(c.items, 'Certificate', 'ray-tls-ca', namespace).spec;
  expect(ca.isCA).toBe(true);
  expect(ca.secretName).toBe('ray-tls-ca');
  expect(ca.issuerRef.name).toBe('ray-tls-selfsigned');
  expect(one(c.items, 'Issuer', 'ray-tls-ca', namespace).spec).toEqual({ ca: { secretName: 'ray-tls-ca' } });
}

const podSpecOf = (item: Obj): Obj => item.spec.template.spec;
const injected = (meta: Obj | undefined) => meta?.annotations?.['ray-tls.io/injected'];

/** The DNS names a Service gets in a certificate. */
const svcNames = (svc: string, ns: string, domain = CLUSTER) => [
  svc,
  `${svc}.${ns}`,
  `${svc}.${ns}.svc`,
  `${svc}.${ns}.svc.${domain}`,
];

const facts: Record<string, Record<string, (c: Case) => void>> = {
  'django-ray-per-pod': {
    'the head signs for the ray-head Service, the worker (no Service selects it) for none': (c) => {
      const head = one(c.items, 'Deployment', 'ray-head', 'django-ray');
      expectPerPodNode(podSpecOf(head), { image: 'rayproject/ray:2.58.0', services: ['ray-head'] });
      const worker = one(c.items, 'Deployment', 'ray-worker', 'django-ray');
      const init = expectPerPodNode(podSpecOf(worker), { image: 'rayproject/ray:2.58.0', services: [] });
      // The init container runs as the Ray container's user (so Ray can read the key) and nothing
      // more of its securityContext: restricted, whatever the Ray container allows itself.
      expect(init.securityContext).toEqual({
        runAsUser: 1000,
        allowPrivilegeEscalation: false,
        privileged: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
        seccompProfile: { type: 'RuntimeDefault' },
      });
      expect(init.imagePullPolicy).toBe('IfNotPresent');
      expect(injected(head.spec.template.metadata)).toBe('per-pod/node');
    },
    "the Ray containers' own settings stay": (c) => {
      const head = podSpecOf(one(c.items, 'Deployment', 'ray-head', 'django-ray')).containers[0];
      expect(head.command).toEqual([
        'ray',
        'start',
        '--head',
        '--port=6379',
        '--ray-client-server-port=10001',
        '--block',
      ]);
      expect(head.env[0]).toEqual({ name: 'RAY_memory_monitor_refresh_ms', value: '0' });
      expect(head.volumeMounts[0]).toEqual({ name: 'dshm', mountPath: '/dev/shm' });
      const worker = podSpecOf(one(c.items, 'Deployment', 'ray-worker', 'django-ray')).containers[0];
      expect(worker.args).toEqual(['ulimit -n 65536\nexec ray start --address=ray-head:6379 --block\n']);
    },
    'the Django-Ray worker is a client with its own certificate, never the CA': (c) => {
      const client = one(c.items, 'Deployment', 'django-ray-worker', 'django-ray');
      expectClientPod(podSpecOf(client), 'django-ray-worker');
      expect(
        podSpecOf(client)
          .containers[0].env.slice(0, 2)
          .map((e: Obj) => e.name),
      ).toEqual(['RAY_ADDRESS', 'DATABASE_URL']);
      expectClientCertificate(c, 'django-ray-worker', 'django-ray');
    },
    'one cert-manager chain for the namespace; nothing else lost, reordered or touched': (c) => {
      expectDefaultChain(c, 'django-ray');
      expect(newItems(c).map(idOf)).toEqual([
        'Issuer/django-ray/ray-tls-selfsigned',
        'Certificate/django-ray/ray-tls-ca',
        'Issuer/django-ray/ray-tls-ca',
        'Certificate/django-ray/django-ray-worker-ray-tls-client',
      ]);
      expectOrderKept(c);
      expectUntouched(c, [
        'Namespace//django-ray',
        'Service/django-ray/ray-head',
        'ConfigMap/django-ray/django-settings',
      ]);
      expect(c.out.stdout).toContain('    mode: 0644 # an octal-looking string stays as written');
      expect(c.out.stdout).toContain('- # Ray head: GCS, the client server on 10001, the dashboard\n');
    },
  },

  annotations: {
    'ray-tls.io/skip leaves a Ray head alone, with an info result': (c) => {
      expectUntouched(c, ['Deployment/x/legacy-ray']);
      expect(c.results).toContainEqual(
        expect.objectContaining({
          severity: 'info',
          resourceRef: expect.objectContaining({ name: 'legacy-ray' }),
          message: expect.stringContaining('ray-tls.io/skip'),
        }),
      );
    },
    'ray-tls.io/role: node makes a pod with no `ray start` a node, on its own image': (c) => {
      const launcher = one(c.items, 'Deployment', 'launcher', 'x');
      expectPerPodNode(podSpecOf(launcher), { image: 'example/launcher:1', services: [] });
      expect(launcher.spec.template.metadata.annotations['ray-tls.io/role']).toBe('node');
    },
    'ray-tls.io/role: none keeps a ray:// mention from making a client': (c) => {
      expectUntouched(c, ['Deployment/x/docs']);
      expect(c.items.some((i) => i.metadata.name === 'docs-ray-tls-client')).toBe(false);
    },
    'only the chain is added': (c) => {
      expect(c.out.exitCode).toBe(0);
      expectDefaultChain(c, 'x');
      expect(newItems(c)).toHaveLength(3);
      expectOrderKept(c);
    },
  },

  'ca-secret': {
    'the named CA Secret feeds the init container; no CA Certificate or bootstrap Issuer': (c) => {
      const head = one(c.items, 'Deployment', 'ray-head', 'lab');
      expectPerPodNode(podSpecOf(head), {
        image: 'rayproject/ray:2.58.0',
        services: [],
        dir: '/var/run/ray-tls',
        caSecret: 'lab-ray-ca',
      });
      expect(c.items.filter((i) => i.kind === 'Certificate' && i.spec.isCA)).toEqual([]);
      expect(c.items.some((i) => i.metadata.name === 'ray-tls-selfsigned')).toBe(false);
      expect(one(c.items, 'Issuer', 'ray-tls-ca', 'lab').spec).toEqual({ ca: { secretName: 'lab-ray-ca' } });
    },
    'mountPath with a trailing slash is used without it': (c) => {
      const env = podSpecOf(one(c.items, 'Deployment', 'ray-head', 'lab')).containers[0].env;
      expect(env).toContainEqual({ name: 'RAY_TLS_SERVER_CERT', value: '/var/run/ray-tls/tls.crt' });
      expect(c.out.stdout).not.toContain('/var/run/ray-tls//');
    },
    'clientSelector makes the notebook a client, even without a ray:// address': (c) => {
      const nb = one(c.items, 'Deployment', 'notebook', 'lab');
      // ca.secretName may be an intermediate: the client trusts the CA's own certificate (the first of the CA
      // Secret's tls.crt, cut by an init container), never the Secret's ca.crt; the CA key is never mounted.
      const spec = podSpecOf(nb);
      expect(spec.initContainers.map((i: Obj) => i.name)).toEqual(['ray-tls-trust']);
      expect(spec.volumes).toEqual([
        { name: 'ray-tls', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } },
        { name: 'ray-tls-secret', secret: { secretName: 'notebook-ray-tls-client' } },
        {
          name: 'ray-tls-trust',
          projected: {
            sources: [{ secret: { name: 'lab-ray-ca', items: [{ key: 'tls.crt', path: 'lab-ray-ca.crt' }] } }],
          },
        },
      ]);
      for (const container of spec.containers) expectTlsContainer(container, '/var/run/ray-tls');
      expectClientCertificate(c, 'notebook', 'lab');
      expect(nb.metadata.labels).toEqual({ team: 'ds' });
      expect(newItems(c).map(idOf)).toEqual(['Issuer/lab/ray-tls-ca', 'Certificate/lab/notebook-ray-tls-client']);
      expectOrderKept(c);
    },
  },

  'empty-list': {
    'no items in, none out, exit 0 and an info that nothing was found': (c) => {
      expect(c.out.exitCode).toBe(0);
      expect(c.inItems).toEqual([]);
      expect(c.items).toEqual([]);
      expect(c.results).toHaveLength(1);
      expect(c.results[0].severity).toBe('info');
      expect(c.results[0].message).toMatch(/^no Ray pods found: nothing changed/);
    },
  },

  'error-config': {
    'every config mistake is an error naming its field; nothing changes': (c) => {
      expectNothingChanged(c);
      const fields = errorsOf(c).map((r) => r.field?.path);
      expect(fields.sort()).toEqual(
        [
          'functionConfig.spec.mountpath',
          'functionConfig.spec.mode',
          'functionConfig.spec.privateKey.size',
          'functionConfig.spec.duration',
          'functionConfig.spec.ca.issuerRef.name',
          'functionConfig.spec.ca',
        ].sort(),
      );
    },
    'each message says how to fix it': (c) => {
      const byField = Object.fromEntries(errorsOf(c).map((r) => [r.field.path, r.message]));
      expect(byField['functionConfig.spec.mountpath']).toContain('did you mean mountPath?');
      expect(byField['functionConfig.spec.mode']).toContain('"mutual" is not a mode');
      expect(byField['functionConfig.spec.privateKey.size']).toContain('2048 is the minimum');
      expect(byField['functionConfig.spec.duration']).toContain('8760h');
      expect(byField['functionConfig.spec.ca']).toContain('not both');
    },
  },

  'error-conflicts': {
    'settings that contradict TLS are errors at the conflicting entry; nothing changes': (c) => {
      expectNothingChanged(c);
      const errs = errorsOf(c).map((r) => [r.resourceRef.name, r.field.path]);
      expect(errs).toEqual([
        ['ray-head', 'spec.template.spec.containers[0].env[0]'],
        ['ray-head', 'spec.template.spec.containers[0].volumeMounts[0]'],
        ['ray-worker', 'spec.template.spec.volumes[0]'],
      ]);
    },
    'each error shows the current and the needed value': (c) => {
      const [env, mount, volume] = errorsOf(c);
      expect(env.field.currentValue).toEqual({ name: 'RAY_USE_TLS', value: '0' });
      expect(env.field.proposedValue).toEqual({ name: 'RAY_USE_TLS', value: '1' });
      expect(mount.field.proposedValue).toEqual({ name: 'ray-tls', mountPath: DIR, readOnly: true });
      expect(volume.field.currentValue).toEqual({ name: 'ray-tls', configMap: { name: 'something-else' } });
      for (const e of errorsOf(c)) expect(e.message).toContain('ray-tls.io/skip');
    },
  },

  'error-pod-dns': {
    'a pinned --node-ip-address, a rayStartParams node-ip-address and a missing namespace are errors; nothing changes':
      (c) => {
        expectNothingChanged(c);
        expect(errorsOf(c).map((r) => [r.resourceRef.kind, r.resourceRef.name, r.field.path])).toEqual([
          ['Deployment', 'pinned', 'spec.template.spec.containers[0].command'],
          ['RayCluster', 'rc', 'spec.headGroupSpec.rayStartParams.node-ip-address'],
          ['Deployment', 'no-namespace', 'metadata.namespace'],
        ]);
      },
    'the messages say what to change': (c) => {
      const [pinned, params, ns] = errorsOf(c);
      expect(pinned.message).toContain('remove the flag');
      expect(params.field.currentValue).toBe('$MY_POD_IP');
      expect(params.field.proposedValue).toBe(POD_DNS_NAME.slice(1, -1));
      expect(ns.message).toContain('set metadata.namespace');
      expect(c.items.some((i) => i.kind === 'Certificate')).toBe(false);
    },
  },

  'error-validate': {
    'the validator changes nothing and ends with the count of problems': (c) => {
      expectNothingChanged(c, { severity: 'error', message: 'ray-tls validate: 8 problem(s)' });
      expect(errorsOf(c)).toHaveLength(9);
    },
    'each problem is reported on its resource and field': (c) => {
      const got = errorsOf(c)
        .slice(0, -1)
        .map((r) => `${r.resourceRef.name} ${r.field?.path ?? ''}`);
      expect(got.sort()).toEqual(
        [
          'weak spec.privateKey.size',
          'weak spec.duration',
          'leaked data.tls.key',
          'ray-head spec.template.spec.containers[0].env[1].value',
          'ray-head spec.template.spec.containers[0].volumeMounts[1]',
          'ray-worker spec.template.spec.containers[0].env[0].value',
          'ray-worker-b spec.template.spec.containers[0].env[1].value',
          'client spec.template.spec.containers[0].env',
        ].sort(),
      );
    },
    'the shared-certificate problem is a warning named for both nodes that use one': (c) => {
      const shared = warningsOf(c).filter((r) => r.message.includes('Secret shared-certs'));
      expect(shared.map((r) => r.resourceRef.name)).toEqual(['ray-head', 'ray-worker-b']);
      expect(shared[0].message).toContain('Use per-pod or pod-dns mode');
    },
  },

  'indented-items': {
    'the indented Ray head gets TLS like any other': (c) => {
      expect(c.out.exitCode).toBe(0);
      const head = one(c.items, 'Deployment', 'ray-head', 'n');
      expectPerPodNode(podSpecOf(head), { image: 'rayproject/ray:2.58.0', services: [] });
    },
    'the ConfigMap is untouched, the indentation kept, the chain appended': (c) => {
      expectUntouched(c, ['ConfigMap/n/c']);
      expect(c.out.stdout).toContain('\nitems:\n  - apiVersion: apps/v1\n');
      expectDefaultChain(c, 'n');
      expectOrderKept(c);
    },
  },

  'issuer-intermediate': {
    "the CA Certificate is issued by the user's ClusterIssuer, with the CA duration": (c) => {
      const ca = one(c.items, 'Certificate', 'ray-tls-ca', 'prod').spec;
      expect(ca.isCA).toBe(true);
      expect(ca.issuerRef).toEqual({ name: 'corp-ca', kind: 'ClusterIssuer', group: 'cert-manager.io' });
      expect(ca.duration).toBe('8760h');
      expect(ca.privateKey.algorithm).toBe('ECDSA');
      expect(c.items.some((i) => i.metadata.name === 'ray-tls-selfsigned')).toBe(false);
    },
    'the init container uses initImage and the configured key, lifetime and cluster domain': (c) => {
      const init = expectPerPodNode(podSpecOf(one(c.items, 'Deployment', 'ray-head', 'prod')), {
        image: 'registry.example/ray-tls-init:1',
        services: [],
      });
      expect(envValue(init, 'CERT_KEY_ALGORITHM')).toBe('ECDSA');
      expect(envValue(init, 'CERT_KEY_SIZE')).toBe('256');
      expect(envValue(init, 'CERT_CLUSTER_DOMAIN')).toBe('prod.example');
      expect(init.env.find((e: Obj) => e.name === 'CERT_HOURS' || e.name === 'CERT_DAYS')).toEqual({
        name: 'CERT_DAYS',
        value: '90',
      });
    },
    'the CA Issuer signs from the intermediate': (c) => {
      expect(one(c.items, 'Issuer', 'ray-tls-ca', 'prod').spec).toEqual({ ca: { secretName: 'ray-tls-ca' } });
      expect(newItems(c).map(idOf)).toEqual(['Certificate/prod/ray-tls-ca', 'Issuer/prod/ray-tls-ca']);
      expectOrderKept(c);
    },
  },

  'json-input': {
    'JSON in, JSON out, with results': (c) => {
      expect(c.input.trimStart().startsWith('{')).toBe(true);
      expect(c.out.stdout.trimStart().startsWith('{')).toBe(true);
      const list = JSON.parse(c.out.stdout);
      expect(list.kind).toBe('ResourceList');
      expect(list.results.length).toBeGreaterThan(0);
    },
    'the head Service names the head; the Service is kept as written': (c) => {
      expectPerPodNode(podSpecOf(one(c.items, 'Deployment', 'ray-head', 'j')), {
        image: 'rayproject/ray:2.58.0',
        services: ['ray-head'],
      });
      expectUntouched(c, ['Service/j/ray-head']);
      expectDefaultChain(c, 'j');
      expectOrderKept(c);
    },
  },

  kinds: {
    'every kind that carries a Ray node gets the init container on the Ray image': (c) => {
      const nodes: [string, string, (i: Obj) => Obj][] = [
        ['StatefulSet', 'ray-sts', podSpecOf],
        ['DaemonSet', 'ray-ds', podSpecOf],
        ['ReplicaSet', 'ray-rs', podSpecOf],
        ['Pod', 'ray-head', (i) => i.spec],
        ['PodTemplate', 'ray-worker-template', (i) => i.template.spec],
        ['ReplicationController', 'ray-rc', podSpecOf],
      ];
      for (const [kind, name, specOf] of nodes) {
        const spec = specOf(one(c.items, kind, name, 'ml'));
        // Only the Pod carries the labels the ray-head Service selects.
        expectPerPodNode(spec, { image: 'rayproject/ray:2.58.0', services: kind === 'Pod' ? ['ray-head'] : [] });
        expect(spec.containers[0].name, `${kind} ${name}`).toBe('ray');
      }
      expect(injected(one(c.items, 'Pod', 'ray-head', 'ml').metadata)).toBe('per-pod/node');
    },
    'a Job and a CronJob that reach ray:// are clients': (c) => {
      expectClientPod(one(c.items, 'Job', 'train', 'ml').spec.template.spec, 'train');
      expectClientPod(one(c.items, 'CronJob', 'nightly', 'ml').spec.jobTemplate.spec.template.spec, 'nightly');
      expectClientCertificate(c, 'train', 'ml');
      expectClientCertificate(c, 'nightly', 'ml');
    },
    'a non-Ray Deployment and the Service are untouched; one chain for ml': (c) => {
      expectUntouched(c, ['Deployment/ml/web', 'Service/ml/ray-head']);
      expect(c.out.stdout).toContain('- {name: nginx, image: "nginx:1.27"} # not Ray: untouched');
      expectDefaultChain(c, 'ml');
      expect(newItems(c)).toHaveLength(5);
      expectOrderKept(c);
    },
  },

  'kpt-head-comments': {
    'each head comment appears exactly once, where it was': (c) => {
      for (const comment of [
        '# The Ray head: a file with a head comment, as kpt sends it',
        '# Not Ray: kept byte for byte',
      ]) {
        expect(c.out.stdout.split(comment)).toHaveLength(2);
        expect(c.out.stdout).toContain(`- ${comment}\n`);
      }
      expect(c.out.stdout).toContain('- name: ray-head # the head\n');
    },
    'the ConfigMap keeps its bytes (yes and 0644 unquoted)': (c) => {
      expectUntouched(c, ['ConfigMap//settings']);
      expect(c.out.stdout).toContain('    on: yes\n    perms: 0644\n');
    },
    'the head gets TLS; the new resources go to ray-tls.yaml with their own indexes': (c) => {
      expectPerPodNode(podSpecOf(one(c.items, 'Deployment', 'ray-head')), {
        image: 'rayproject/ray:2.58.0',
        services: [],
      });
      const added = newItems(c);
      expect(
        added.map((i) => [
          i.metadata.annotations['config.kubernetes.io/path'],
          i.metadata.annotations['config.kubernetes.io/index'],
        ]),
      ).toEqual([
        ['ray-tls.yaml', '0'],
        ['ray-tls.yaml', '1'],
        ['ray-tls.yaml', '2'],
      ]);
      expectDefaultChain(c, undefined);
      expectOrderKept(c);
    },
  },

  kuberay: {
    'KubeRay heads name the head Service KubeRay will create': (c) => {
      const rc = one(c.items, 'RayCluster', 'raycluster', 'ray');
      expectPerPodNode(rc.spec.headGroupSpec.template.spec, {
        image: 'rayproject/ray:2.58.0',
        services: ['raycluster-head-svc'],
      });
      const serve = one(c.items, 'RayService', 'serve', 'serving');
      const serveInit = expectPerPodNode(serve.spec.rayClusterConfig.headGroupSpec.template.spec, {
        image: 'rayproject/ray:2.58.0',
        services: ['serve-head-svc'],
      });
      // The cluster's real name comes from its label at run time (KubeRay generates it).
      expect(envValue(serveInit, 'CERT_RAY_CLUSTER')).toEqual({
        fieldRef: { fieldPath: "metadata.labels['ray.io/cluster']" },
      });
      const job = one(c.items, 'RayJob', 'job', 'ray');
      // KubeRay also makes a head Service named after the RayJob itself (rayjob_controller.go reconcileServices).
      const jobInit = expectPerPodNode(job.spec.rayClusterSpec.headGroupSpec.template.spec, {
        image: 'rayproject/ray:2.58.0',
        services: ['job-head-svc'],
      });
      expect(envValue(jobInit, 'CERT_RAY_CLUSTER')).toEqual({
        fieldRef: { fieldPath: "metadata.labels['ray.io/cluster']" },
      });
    },
    "worker groups sign for no Service, each on its group's first container image": (c) => {
      const rc = one(c.items, 'RayCluster', 'raycluster', 'ray');
      const [cpu, gpu] = rc.spec.workerGroupSpecs;
      expectPerPodNode(cpu.template.spec, { image: 'rayproject/ray:2.58.0', services: [] });
      expectPerPodNode(gpu.template.spec, { image: 'rayproject/ray:2.58.0-gpu', services: [] });
      const small = one(c.items, 'RayService', 'serve', 'serving').spec.rayClusterConfig.workerGroupSpecs[0];
      expectPerPodNode(small.template.spec, { image: 'rayproject/ray:2.58.0', services: [] });
    },
    'a log-shipper sidecar of the head pod gets nothing (no key, no env); rayStartParams untouched': (c) => {
      const head = one(c.items, 'RayCluster', 'raycluster', 'ray').spec.headGroupSpec;
      expect(head.template.spec.containers.map((x: Obj) => x.name)).toEqual(['ray-head', 'log-shipper']);
      expect(head.template.spec.containers[1]).toEqual({ name: 'log-shipper', image: 'fluent/fluent-bit:3.0' });
      expect(head.rayStartParams).toEqual({ 'dashboard-host': '0.0.0.0' });
    },
    "the RayJob's submitter is a client; each namespace gets its own chain": (c) => {
      const job = one(c.items, 'RayJob', 'job', 'ray');
      expectClientPod(job.spec.submitterPodTemplate.spec, 'job-submitter');
      expectClientCertificate(c, 'job-submitter', 'ray');
      expectDefaultChain(c, 'ray');
      expectDefaultChain(c, 'serving');
      expect(
        c.items.some((i) => i.metadata.name === 'job-submitter-ray-tls-client' && i.metadata.namespace === 'serving'),
      ).toBe(false);
      expectOrderKept(c);
    },
  },

  'no-cert-manager': {
    'no cert-manager resources at all; the Secrets to create are listed': (c) => {
      expect(c.items.filter((i) => String(i.apiVersion).startsWith('cert-manager.io'))).toEqual([]);
      expect(c.items.map(idOf)).toEqual(c.inItems.map(idOf));
      const info = c.results.filter((r) => r.message.startsWith('certManager: false'));
      expect(info).toHaveLength(1);
      expect((info[0] as Obj).message).toContain('ray-tls-ca, django-ray-worker-ray-tls-client');
    },
    'the pods still use the Secrets by their usual names': (c) => {
      expectPerPodNode(podSpecOf(one(c.items, 'Deployment', 'ray-head', 'django-ray')), {
        image: 'rayproject/ray:2.58.0',
        services: [],
      });
      expectClientPod(podSpecOf(one(c.items, 'Deployment', 'django-ray-worker', 'django-ray')), 'django-ray-worker');
    },
  },

  'pod-dns': {
    "the namespace's node certificate names each selecting Service, then the pod wildcard": (c) => {
      const nodes = one(c.items, 'Certificate', 'ray-tls-nodes', 'django-ray').spec;
      expect(nodes.dnsNames).toEqual([
        ...svcNames('ray-head', 'django-ray'),
        'localhost',
        '*.django-ray.pod.cluster.local',
      ]);
      expect(nodes.ipAddresses).toEqual(['127.0.0.1']);
      expect(nodes.usages).toEqual(expect.arrayContaining(['server auth', 'client auth']));
      expect(nodes.secretName).toBe('ray-tls-nodes');
    },
    "KubeRay's head Services (generated and named) come before the kuberay wildcard": (c) => {
      const names: string[] = one(c.items, 'Certificate', 'ray-tls-nodes', 'kuberay').spec.dnsNames;
      const wildcard = names.indexOf('*.kuberay.pod.cluster.local');
      expect(wildcard).toBeGreaterThan(0);
      for (const svc of ['rc-head-svc', 'rj-head', 'rj-head-svc', 'serve-head-svc']) {
        for (const n of svcNames(svc, 'kuberay')) {
          expect(names, n).toContain(n);
          expect(names.indexOf(n), n).toBeLessThan(wildcard);
        }
      }
      // rj-head (headService.metadata.name) is the cluster's; rj-head-svc is the RayJob's own, whatever that name.
    },
    'every `ray start` advertises its pod DNS name, whatever its form': (c) => {
      const flag = `--node-ip-address=${POD_DNS_NAME}`;
      const head = podSpecOf(one(c.items, 'Deployment', 'ray-head', 'django-ray')).containers[0];
      expect(head.command.slice(0, 2)).toEqual(['sh', '-c']);
      expect(head.command[2]).toContain(`exec "$@" ${flag}`);
      expect(head.args).toEqual(['ray', 'start', '--head', '--port=6379', '--ray-client-server-port=10001', '--block']);
      const sts = podSpecOf(one(c.items, 'StatefulSet', 'ray-worker', 'django-ray')).containers[0];
      expect(sts.args[0]).toContain(`exec ray start ${flag} --address=ray-head:6379 --block`);
      const cron = one(c.items, 'CronJob', 'ray-burst', 'django-ray').spec.jobTemplate.spec.template.spec.containers[0];
      expect(cron.args).toEqual([`ray start ${flag} --address=ray-head:6379 --block`]);
      const rc = one(c.items, 'RayCluster', 'rc', 'kuberay').spec;
      expect(rc.headGroupSpec.rayStartParams).toEqual({
        'dashboard-host': '0.0.0.0',
        'node-ip-address': POD_DNS_NAME.slice(1, -1),
      });
      expect(rc.workerGroupSpecs[0].rayStartParams).toEqual({ 'node-ip-address': POD_DNS_NAME.slice(1, -1) });
    },
    "the head's loopback health checks are aimed at its pod DNS name": (c) => {
      const head = podSpecOf(one(c.items, 'Deployment', 'ray-head', 'django-ray')).containers[0];
      const ready = JSON.stringify(head.readinessProbe);
      const live = JSON.stringify(head.livenessProbe);
      expect(ready).not.toContain('127.0.0.1');
      expect(live).not.toContain('localhost:6379');
      expect(head.readinessProbe.exec.command[2]).toContain('.$RAY_TLS_POD_NAMESPACE.pod.cluster.local:6379');
      expect(head.livenessProbe.exec.command[2]).toContain('.pod.cluster.local:6379" || exit 1');
    },
    'nodes mount the node certificate, get the pod IP and namespace, and no pod holds a CA key': (c) => {
      const head = podSpecOf(one(c.items, 'Deployment', 'ray-head', 'django-ray'));
      expect(head.volumes).toEqual([{ name: 'ray-tls', secret: { secretName: 'ray-tls-nodes' } }]);
      expectTlsContainer(head.containers[0]);
      expect(envValue(head.containers[0], 'RAY_TLS_POD_IP')).toEqual({ fieldRef: { fieldPath: 'status.podIP' } });
      expect(c.out.stdout).not.toContain('ray-tls-init');
      for (const i of c.items.slice(0, c.inItems.length))
        expect(JSON.stringify(i), idOf(i)).not.toContain('"secretName":"ray-tls-ca"');
    },
    'the Django worker and the RayJob submitter are clients; the Service is untouched': (c) => {
      expectClientPod(podSpecOf(one(c.items, 'Deployment', 'django-ray-worker', 'django-ray')), 'django-ray-worker');
      expectClientCertificate(c, 'django-ray-worker', 'django-ray');
      expectClientCertificate(c, 'rj-submitter', 'kuberay');
      expectUntouched(c, ['Service/django-ray/ray-head']);
      expectOrderKept(c);
    },
  },

  'services-to-sans': {
    'the head names exactly the Services whose selector its labels match, in its own namespace': (c) => {
      // ray-head (app+role), ray-client (role), ray-all (tier) match; wrong-ns is in b,
      // other wants role=worker, external has no selector.
      expectPerPodNode(podSpecOf(one(c.items, 'Deployment', 'ray-head', 'a')), {
        image: 'rayproject/ray:2.58.0',
        services: ['ray-head', 'ray-client', 'ray-all'],
      });
    },
    'the worker is named by `other` only': (c) => {
      expectPerPodNode(podSpecOf(one(c.items, 'Deployment', 'ray-worker', 'a')), {
        image: 'rayproject/ray:2.58.0',
        services: ['other'],
      });
    },
    'the Services are untouched; one chain for namespace a, none for b': (c) => {
      expectUntouched(c, [
        'Service/a/ray-head',
        'Service/a/ray-client',
        'Service/a/ray-all',
        'Service/b/wrong-ns',
        'Service/a/other',
        'Service/a/external',
      ]);
      expectDefaultChain(c, 'a');
      expect(newItems(c).every((i) => i.metadata.namespace === 'a')).toBe(true);
      expectOrderKept(c);
    },
  },

  'shared-multi-node': {
    'every node gets a warning that shared mode cannot work on Kubernetes': (c) => {
      const w = warningsOf(c).filter((r) => r.resourceRef);
      expect(w.map((r) => r.resourceRef.name)).toEqual(['ray-head', 'ray-worker']);
      for (const r of w) expect(r.message).toContain('does not name its pod IP');
      expect(c.out.exitCode).toBe(0);
    },
    'one shared Certificate naming the Services, mounted into every node, no init container': (c) => {
      const cert = one(c.items, 'Certificate', 'ray-tls', 'django-ray').spec;
      expect(cert.secretName).toBe('ray-tls-certs');
      expect(cert.dnsNames).toEqual([...svcNames('ray-head', 'django-ray'), 'localhost']);
      expect(cert.ipAddresses).toEqual(['127.0.0.1']);
      for (const name of ['ray-head', 'ray-worker']) {
        const spec = podSpecOf(one(c.items, 'Deployment', name, 'django-ray'));
        expect(spec.initContainers).toBeUndefined();
        expect(spec.volumes).toEqual([{ name: 'ray-tls', secret: { secretName: 'ray-tls-certs' } }]);
        expectTlsContainer(spec.containers[0]);
      }
    },
    'the chain is emitted and the Service untouched': (c) => {
      expectDefaultChain(c, 'django-ray');
      expectUntouched(c, ['Service/django-ray/ray-head']);
      expectOrderKept(c);
    },
  },

  'shared-single-node': {
    'even one node is warned (Ray dials its own pod IP)': (c) => {
      const w = warningsOf(c).filter((r) => r.resourceRef);
      expect(w.map((r) => r.resourceRef.name)).toEqual(['ray-head']);
      expect(w[0].message).toContain('its own raylet included');
    },
    'the node mounts the shared certificate; the client gets its own': (c) => {
      const head = podSpecOf(one(c.items, 'Deployment', 'ray-head', 'dev'));
      expect(head.volumes).toEqual([{ name: 'ray-tls', secret: { secretName: 'ray-tls-certs' } }]);
      expect(one(c.items, 'Certificate', 'ray-tls', 'dev').spec.dnsNames).toEqual([
        ...svcNames('ray-head', 'dev'),
        'localhost',
      ]);
      expectClientPod(podSpecOf(one(c.items, 'Deployment', 'client', 'dev')), 'client');
      expectClientCertificate(c, 'client', 'dev');
    },
    'the Service is untouched': (c) => {
      expectUntouched(c, ['Service/dev/ray-head']);
      expectDefaultChain(c, 'dev');
      expectOrderKept(c);
    },
  },
};

it('every example in test/examples has facts here, and every fact an example', () => {
  const dirs = readdirSync(EXAMPLES, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
  expect(Object.keys(facts).sort()).toEqual(dirs);
});

describe.each(Object.keys(facts).sort())('example %s', (name) => {
  const c = load(name);
  const byFact = facts[name];
  if (!byFact) throw new Error(`no facts for ${name}`);
  it.each(Object.keys(byFact))('%s', (fact) => {
    const check = byFact[fact];
    if (!check) throw new Error(`no fact ${fact}`);
    check(c);
  });
});
