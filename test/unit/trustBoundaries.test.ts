// Issue 22 (the function's side): no name can widen a certificate, and no secret from the
// input comes back in results or on stderr. The hostile inputs are the issue's own.
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { run } from '../../src/function/run.js';
import { REDACTED, redact, redactText } from '../../src/krm/redact.js';
import { resourceList } from '../support/emitted.js';

type Obj = Record<string, any>;

const deployment = (name: string, container: Obj, namespace = 'ray'): Obj => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, namespace },
  spec: {
    selector: { matchLabels: { app: name } },
    template: { metadata: { labels: { app: name } }, spec: { containers: [{ name, ...container }] } },
  },
});
const head = (container: Obj = {}, namespace = 'ray') =>
  deployment(
    'ray-head',
    { image: 'rayproject/ray:2.58.0', command: ['ray', 'start', '--head', '--block'], ...container },
    namespace,
  );
const service = (name: string, selector: Obj = { app: 'ray-head' }): Obj => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace: 'ray' },
  spec: { selector, ports: [{ port: 6379 }] },
});
const rayCluster = (name: string, headService?: string): Obj => ({
  apiVersion: 'ray.io/v1',
  kind: 'RayCluster',
  metadata: { name, namespace: 'ray' },
  spec: {
    headGroupSpec: {
      rayStartParams: {},
      ...(headService && { headService: { metadata: { name: headService } } }),
      template: { spec: { containers: [{ name: 'ray-head', image: 'rayproject/ray:2.58.0' }] } },
    },
  },
});

const HOSTILE = 'x,IP:10.96.0.1,DNS:*.svc.cluster.local,URI:spiffe://evil';

describe('names that reach a certificate are DNS-1035 labels (error result naming the item)', () => {
  it(`a Service named ${HOSTILE} selecting the head: an error on that Service, nothing changed`, () => {
    const out = run(resourceList([head(), service(HOSTILE)]));
    expect(out.exitCode).toBe(1);
    const errors = out.results.filter((r) => r.severity === 'error');
    expect(errors).toEqual([
      {
        severity: 'error',
        message:
          `Service ${JSON.stringify(HOSTILE)} selects the Ray node Deployment ray-head (spec.template), so its name ` +
          "would go into that node's certificate, but it is not a DNS-1035 label: lowercase letters, digits and '-', " +
          'starting with a letter, at most 63 characters: rename the Service',
        resourceRef: { apiVersion: 'v1', kind: 'Service', name: HOSTILE, namespace: 'ray' },
        field: { path: 'metadata.name' },
      },
    ]);
    // Nothing changed: the input comes back as it was, without an init script.
    const items = (parse(out.stdout) as Obj).items as Obj[];
    expect(items.find((i) => i.kind === 'Deployment')!.spec.template.spec.initContainers).toBeUndefined();
    expect(out.stderr[0]).toMatch(/^error: .*rename the Service$/);
  });

  it.each([
    ['a dot', 'ray.head'],
    ['a leading digit', '1ray'],
    ['an upper-case letter', 'Ray-head'],
    ['64 characters', 'r'.repeat(64)],
  ])('a Service name with %s selecting a Ray node is an error too', (_, name) => {
    expect(run(resourceList([head(), service(name)])).exitCode).toBe(1);
  });

  it('a badly named Service that selects no Ray pod is not ours to judge: it passes through', () => {
    const out = run(resourceList([head(), service(HOSTILE, { app: 'other' })]));
    expect(out.exitCode).toBe(0);
    expect(out.stdout).toContain(HOSTILE);
  });

  it("KubeRay: a headService name, or a cluster name whose '-head-svc' is not a label, is an error", () => {
    const custom = run(resourceList([rayCluster('rc', 'head,DNS:evil.example')]));
    expect(custom.exitCode).toBe(1);
    expect(custom.results.find((r) => r.severity === 'error')).toMatchObject({
      resourceRef: { kind: 'RayCluster', name: 'rc' },
      field: { path: 'spec.headGroupSpec.headService.metadata.name' },
      message: expect.stringMatching(/^headGroupSpec: the head Service "head,DNS:evil.example" would go into/),
    });
    expect(run(resourceList([rayCluster('my.cluster')])).exitCode).toBe(1);
    expect(run(resourceList([rayCluster('rc', 'rc-head')])).exitCode).toBe(0);
  });

  it('a Ray node in a namespace that is not a namespace name is an error', () => {
    const out = run(resourceList([head({}, 'ns,DNS:evil.example')]));
    expect(out.exitCode).toBe(1);
    expect(out.results.find((r) => r.severity === 'error')?.field).toEqual({ path: 'metadata.namespace' });
  });
});

const PEM =
  '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n';
const TOKEN = 'f00dfeedcafe0123456789abcdef0123';

describe('no secret from the input in results or on stderr', () => {
  const everything = (out: ReturnType<typeof run>) => JSON.stringify(out.results) + out.stderr.join('\n') + out.stdout;
  const printed = (out: ReturnType<typeof run>) => JSON.stringify(out.results) + out.stderr.join('\n');

  it('a literal RAY_AUTH_TOKEN: a warning saying to use a Secret, and the conflict under auth: token hides it', () => {
    const env = [{ name: 'RAY_AUTH_TOKEN', value: TOKEN }];
    const plain = run(resourceList([head({ env })]));
    expect(plain.exitCode).toBe(0);
    const warning = plain.results.find((r) => r.message.startsWith('RAY_AUTH_TOKEN is set to a literal value'));
    expect(warning).toMatchObject({
      severity: 'warning',
      resourceRef: { kind: 'Deployment', name: 'ray-head' },
      field: { path: 'spec.template.spec.containers[0].env[0].value' },
      message: expect.stringContaining('take it from a Secret (auth: token mounts one as a file'),
    });
    expect(printed(plain)).not.toContain(TOKEN);
    const auth = run(resourceList([head({ env })]), undefined);
    expect(auth.exitCode).toBe(0);
    const withAuth = run(resourceList([head({ env })], { auth: 'token' }));
    expect(withAuth.exitCode).toBe(1);
    const conflict = withAuth.results.find((r) => r.severity === 'error');
    expect(conflict?.field).toMatchObject({ currentValue: { name: 'RAY_AUTH_TOKEN', value: REDACTED } });
    expect(printed(withAuth)).not.toContain(TOKEN);
  });

  it('a PEM key in RAY_TLS_SERVER_KEY comes back as <redacted>; ray-tls own proposal (a path) stays readable', () => {
    const out = run(resourceList([head({ env: [{ name: 'RAY_TLS_SERVER_KEY', value: PEM }] })]));
    expect(out.exitCode).toBe(1);
    const conflict = out.results.find((r) => r.severity === 'error');
    expect(conflict?.field).toEqual({
      path: 'spec.template.spec.containers[0].env[0]',
      currentValue: { name: 'RAY_TLS_SERVER_KEY', value: REDACTED },
      proposedValue: { name: 'RAY_TLS_SERVER_KEY', value: '/etc/ray/tls/tls.key' },
    });
    expect(printed(out)).not.toMatch(/PRIVATE KEY|MIGHAgEA/);
  });

  it('env that is not a list: the whole list is the current value, and its secrets are redacted', () => {
    const env = { RAY_AUTH_TOKEN: TOKEN, DB_PASSWORD: 'hunter2', PLAIN: 'visible' };
    const out = run(resourceList([head({ env })]));
    expect(out.exitCode).toBe(1);
    expect(printed(out)).not.toMatch(new RegExp(`${TOKEN}|hunter2`));
    expect(printed(out)).toContain('visible');
  });

  it('pod-dns: a command that cannot be rewritten carries its inline secrets redacted, in both values', () => {
    const command = [
      'sh',
      '-c',
      `RAY_AUTH_TOKEN=${TOKEN} ray start --head --node-ip-address=1.2.3.4 --redis-password s3cret`,
    ];
    const out = run(resourceList([head({ command })], { mode: 'pod-dns' }));
    expect(out.exitCode).toBe(1);
    expect(printed(out)).not.toMatch(new RegExp(`${TOKEN}|s3cret`));
    expect(printed(out)).toContain(`RAY_AUTH_TOKEN=${REDACTED}`);
    expect(printed(out)).toContain(`--redis-password ${REDACTED}`);
  });

  it('a ray:// address with a password in it is not echoed in the role note', () => {
    const client = deployment('app', {
      image: 'app:1',
      env: [{ name: 'RAY_ADDRESS', value: 'ray://u:pw-42@ray-head:10001' }],
    });
    const out = run(resourceList([head(), client]));
    expect(everything(out).replace(/ray:\/\/u:pw-42@ray-head:10001/g, '')).not.toContain('pw-42');
    expect(printed(out)).not.toContain('pw-42');
  });

  it('a YAML error does not show the line it is on (which may hold the token)', () => {
    const text = resourceList([head()]).replace(
      '--block',
      `--block\n  - {name: RAY_AUTH_TOKEN, value: "${TOKEN}" x: y}`,
    );
    const out = run(text);
    expect(out.exitCode).toBe(1);
    expect(out.stderr.join('\n')).toMatch(/^error: .*not valid YAML: .*line \d+, column \d+$/);
    expect(out.stderr.join('\n')).not.toContain(TOKEN);
  });

  it('redact: the class of secrets, and what it leaves alone', () => {
    expect(
      redact([
        { name: 'API_KEY', value: 'k' },
        { name: 'PATH', value: '/bin' },
      ]),
    ).toEqual([
      { name: 'API_KEY', value: REDACTED },
      { name: 'PATH', value: '/bin' },
    ]);
    expect(redact({ 'redis-password': 'p', secretName: 'ray-tls-ca', key: 'token' })).toEqual({
      'redis-password': REDACTED,
      secretName: 'ray-tls-ca',
      key: 'token',
    });
    expect(redactText(`x ${PEM}`)).toBe(REDACTED);
    expect(redactText('MY_SECRET="a b" RAY_USE_TLS=1 --auth-token=t --port 1')).toBe(
      `MY_SECRET=${REDACTED} RAY_USE_TLS=1 --auth-token=${REDACTED} --port 1`,
    );
    expect(redactText('Secret ray-auth-token (key token); ray-tls token')).toBe(
      'Secret ray-auth-token (key token); ray-tls token',
    );
  });
});
