// Least material (issue 22): the node key mount, the trust and the token reach only the
// containers that talk to Ray; a log shipper sidecar and a `git clone` init container get nothing.
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { run } from '../../src/function/run.js';
import { showsRay } from '../../src/ray/containers.js';
import { resourceList } from '../support/emitted.js';

type Obj = Record<string, any>;
const NS = 'ray';
const list = (items: Obj[], spec: Obj = { auth: 'token' }) => resourceList(items, spec);
function render(items: Obj[], spec?: Obj): { items: Obj[]; results: Obj[]; stdout: string } {
  const out = run(list(items, spec));
  expect(out.exitCode, out.stderr.join('\n')).toBe(0);
  const parsed = parse(out.stdout) as Obj;
  return { items: parsed.items, results: parsed.results ?? [], stdout: out.stdout };
}
const deployment = (name: string, spec: Obj, annotations?: Obj): Obj => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, namespace: NS },
  spec: { template: { metadata: { labels: { app: name }, ...(annotations && { annotations }) }, spec } },
});
const RAY = { name: 'ray-head', image: 'rayproject/ray:2.58.0', command: ['ray', 'start', '--head', '--block'] };
const SHIPPER = { name: 'log-shipper', image: 'fluent/fluent-bit:3.0' };
const GIT = { name: 'git-clone', image: 'alpine/git:2', command: ['git', 'clone', 'https://example.com/app', '/src'] };
const WAIT = {
  name: 'wait-gcs',
  image: 'busybox:1',
  command: ['sh', '-c', 'until ray health-check; do sleep 1; done'],
};
const podOf = (items: Obj[], name: string): Obj =>
  items.find((i) => i.kind === 'Deployment' && i.metadata.name === name)!.spec.template.spec;
const named = (list: Obj[] | undefined, name: string): Obj => (list ?? []).find((c) => c.name === name) ?? {};

describe('which containers get the TLS files and the token', () => {
  it('the Ray container and an init container that runs `ray` get them; a log shipper and git clone nothing', () => {
    const r = render([deployment('ray-head', { initContainers: [GIT, WAIT], containers: [RAY, SHIPPER] })]);
    const pod = podOf(r.items, 'ray-head');
    for (const c of [named(pod.containers, 'ray-head'), named(pod.initContainers, 'wait-gcs')]) {
      expect(c.env.map((e: Obj) => e.name)).toEqual([
        'RAY_USE_TLS',
        'RAY_TLS_SERVER_CERT',
        'RAY_TLS_SERVER_KEY',
        'RAY_TLS_CA_CERT',
        'RAY_AUTH_MODE',
        'RAY_AUTH_TOKEN_PATH',
      ]);
      expect(c.volumeMounts.map((m: Obj) => m.name)).toEqual(['ray-tls', 'ray-tls-auth-token']);
    }
    expect(named(pod.containers, 'log-shipper')).toEqual(SHIPPER);
    expect(named(pod.initContainers, 'git-clone')).toEqual(GIT);
    const info = r.results.find((x) => x.resourceRef?.name === 'ray-head' && x.severity === 'info')!;
    expect(info.message).toContain(
      '; the TLS env and files and the token file go to wait-gcs, ray-head; nothing to git-clone, log-shipper (no ' +
        'sign of Ray; annotation ray-tls.io/ray-containers adds one)',
    );
  });

  it('annotations: ray-tls.io/ray-containers adds a container, ray-tls.io/not-ray-containers takes one away', () => {
    const exporter = { name: 'exporter', image: 'example/exporter:1' };
    const debug = { name: 'debug', image: 'python:3', env: [{ name: 'RAY_ADDRESS', value: 'ray://ray-head:10001' }] };
    const annotations = {
      'ray-tls.io/ray-containers': 'exporter',
      // The node's own Ray container cannot be taken away: Ray would start without TLS.
      'ray-tls.io/not-ray-containers': 'debug, ray-head',
    };
    const r = render([deployment('ray-head', { containers: [RAY, exporter, debug] }, annotations)]);
    const pod = podOf(r.items, 'ray-head');
    expect(named(pod.containers, 'exporter').volumeMounts.map((m: Obj) => m.name)).toEqual([
      'ray-tls',
      'ray-tls-auth-token',
    ]);
    expect(named(pod.containers, 'debug')).toEqual(debug);
    expect(named(pod.containers, 'ray-head').env).toContainEqual({ name: 'RAY_USE_TLS', value: '1' });
  });

  it('a client picked by clientSelector with no sign of Ray: its containers get everything, as before', () => {
    const nb = deployment('notebook', { containers: [{ name: 'lab', image: 'jupyter/base:1' }] });
    nb.spec.template.metadata.labels = { team: 'ds' };
    const r = render([nb], { auth: 'token', clientSelector: { matchLabels: { team: 'ds' } } });
    expect(named(podOf(r.items, 'notebook').containers, 'lab').env).toContainEqual({
      name: 'RAY_AUTH_TOKEN_PATH',
      value: '/etc/ray/auth/auth_token',
    });
  });

  it('a pod rendered by an earlier release: the sidecar loses the env and mount, RAY_AUTH_TOKEN goes', () => {
    const first = render([deployment('ray-head', { containers: [RAY, SHIPPER] })]).items;
    const pod = podOf(first, 'ray-head');
    // What earlier releases wrote: every container got the env and the mount, the token as env.
    const old = [
      ...named(pod.containers, 'ray-head').env.filter((e: Obj) => e.name !== 'RAY_AUTH_TOKEN_PATH'),
      { name: 'RAY_AUTH_TOKEN', valueFrom: { secretKeyRef: { name: 'ray-auth-token', key: 'token' } } },
    ];
    named(pod.containers, 'ray-head').env = old;
    Object.assign(named(pod.containers, 'log-shipper'), {
      env: structuredClone(old),
      volumeMounts: [{ name: 'ray-tls', mountPath: '/etc/ray/tls', readOnly: true }],
    });
    const again = render(first);
    const head = podOf(again.items, 'ray-head');
    // An emptied list stays as an empty key (null), which Kubernetes reads as no env.
    expect(named(head.containers, 'log-shipper').env ?? []).toEqual([]);
    expect(named(head.containers, 'log-shipper').volumeMounts ?? []).toEqual([]);
    const env = named(head.containers, 'ray-head').env.map((e: Obj) => e.name);
    expect(env).not.toContain('RAY_AUTH_TOKEN');
    expect(env).toContain('RAY_AUTH_TOKEN_PATH');
    // And a third run changes nothing.
    expect(render(again.items).stdout).toBe(render(render(again.items).items).stdout);
  });
});

describe('showsRay', () => {
  it.each([
    [{ image: 'rayproject/ray-ml:2.9.0@sha256:' + '0'.repeat(64) }, 'image rayproject/ray-ml:2.9.0@sha256:'],
    [{ image: 'registry.example/team/django-ray:1' }, 'image registry.example/team/django-ray:1'],
    [{ image: 'python:3', command: ['/opt/venv/bin/ray', 'job', 'submit', '--', 'python', 'x.py'] }, 'a `ray` command'],
    [{ image: 'python:3', args: ['python', 'app.py', '--address', 'ray://head:10001'] }, 'a ray:// address'],
    [{ image: 'python:3', env: [{ name: 'RAY_ADDRESS', value: 'ray-head:6379' }] }, 'env RAY_ADDRESS'],
  ])('%o shows Ray (%s)', (c, why) => {
    expect(showsRay(c as Obj)).toMatch(new RegExp(`^${why.replace(/[$()*+.?@[\]^`{|}]/g, '\\$&')}`));
  });
  it.each([
    { image: 'fluent/fluent-bit:3.0' },
    { image: 'xray-daemon:1', command: ['xray'] },
    { image: 'alpine/git:2', command: ['git', 'clone', 'https://example.com/ray-project'] },
    // What ray-tls adds itself is no sign: a second run decides as the first.
    {
      image: 'busybox',
      env: [
        { name: 'RAY_USE_TLS', value: '1' },
        { name: 'RAY_AUTH_TOKEN_PATH', value: '/x' },
      ],
    },
  ])('%o does not', (c) => {
    expect(showsRay(c as Obj)).toBeUndefined();
  });
});
