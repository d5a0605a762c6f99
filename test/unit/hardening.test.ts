// Least privilege (issue 17): the init containers' own securityContext, Secret file modes,
// token authentication in every Ray process, hostNetwork warnings.
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { run } from '../../src/function/run.js';
import { resourceList } from '../support/emitted.js';

type Obj = Record<string, any>;

const deployment = (name: string, podSpec: Obj): Obj => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, namespace: 'ray' },
  spec: { selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: podSpec } },
});
const head = (container: Obj = {}, pod: Obj = {}): Obj =>
  deployment('ray-head', {
    ...pod,
    containers: [
      {
        name: 'ray-head',
        image: 'rayproject/ray:2.58.0',
        command: ['ray', 'start', '--head', '--block'],
        ...container,
      },
    ],
  });
const client: Obj = deployment('django', {
  containers: [{ name: 'app', image: 'django-ray:1', env: [{ name: 'RAY_ADDRESS', value: 'ray://ray-head:10001' }] }],
});
const render = (items: Obj[], spec?: Obj) => {
  const out = run(resourceList(items, spec));
  return { ...out, items: (parse(out.stdout) as Obj).items as Obj[] };
};
const podOf = (items: Obj[], name: string) => items.find((i) => i.metadata.name === name)!.spec.template.spec;
const RESTRICTED = {
  allowPrivilegeEscalation: false,
  privileged: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

describe("the init container's securityContext", () => {
  it('no securityContext on the Ray container: the restricted settings only', () => {
    expect(podOf(render([head()]).items, 'ray-head').initContainers[0].securityContext).toEqual(RESTRICTED);
  });

  it('a non-root Ray container: its user, group and runAsNonRoot, nothing else', () => {
    const sc = { runAsUser: 1000, runAsGroup: 100, runAsNonRoot: true, allowPrivilegeEscalation: false };
    expect(podOf(render([head({ securityContext: sc })]).items, 'ray-head').initContainers[0].securityContext).toEqual({
      runAsUser: 1000,
      runAsGroup: 100,
      runAsNonRoot: true,
      ...RESTRICTED,
    });
  });

  it('a privileged root Ray container with SYS_ADMIN: the user id only, never its privileges', () => {
    const sc = { privileged: true, runAsUser: 0, capabilities: { add: ['SYS_ADMIN'] }, allowPrivilegeEscalation: true };
    const init = podOf(render([head({ securityContext: sc })]).items, 'ray-head').initContainers[0];
    expect(init.securityContext).toEqual({ runAsUser: 0, ...RESTRICTED });
    expect(JSON.stringify(init)).not.toContain('SYS_ADMIN');
  });

  it('passes Pod Security "restricted" wherever the pod did: runAsNonRoot at pod level covers it', () => {
    const pod = { securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } } };
    const sc = { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } };
    const spec = podOf(render([head({ securityContext: sc }, pod)]).items, 'ray-head');
    for (const c of spec.initContainers) {
      expect(c.securityContext.allowPrivilegeEscalation).toBe(false);
      expect(c.securityContext.capabilities.drop).toEqual(['ALL']);
      expect(c.securityContext.seccompProfile.type).toBe('RuntimeDefault');
      expect(c.securityContext.privileged).toBe(false);
    }
    expect(spec.securityContext.runAsNonRoot).toBe(true);
  });
});

describe('Secret volumes', () => {
  const caVolume = (items: Obj[]) => podOf(items, 'ray-head').volumes.find((v: Obj) => v.name === 'ray-tls-ca').secret;
  it('the CA Secret: only the three keys the script reads; 0440 with an fsGroup, 0400 as root', () => {
    expect(caVolume(render([head({}, { securityContext: { fsGroup: 100 } })]).items)).toEqual({
      secretName: 'ray-tls-ca',
      items: ['ca.crt', 'tls.crt', 'tls.key'].map((k) => ({ key: k, path: k })),
      defaultMode: 0o440,
    });
    expect(caVolume(render([head({ securityContext: { runAsUser: 0 } })]).items).defaultMode).toBe(0o400);
    // Without either, the image's user (unknown here) must read it: Kubernetes' default stays.
    expect(caVolume(render([head()]).items).defaultMode).toBeUndefined();
  });
});

describe('token authentication', () => {
  const autoscaled: Obj = {
    apiVersion: 'ray.io/v1',
    kind: 'RayCluster',
    metadata: { name: 'rc', namespace: 'ray' },
    spec: {
      rayVersion: '2.58.0',
      enableInTreeAutoscaling: true,
      headGroupSpec: {
        rayStartParams: {},
        template: { spec: { containers: [{ name: 'ray-head', image: 'rayproject/ray:2.58.0' }] } },
      },
    },
  };
  const TOKEN_ENV = [
    { name: 'RAY_AUTH_MODE', value: 'token' },
    { name: 'RAY_AUTH_TOKEN_PATH', value: '/etc/ray/auth/auth_token' },
  ];
  const TOKEN_MOUNT = { name: 'ray-tls-auth-token', mountPath: '/etc/ray/auth', readOnly: true };

  it('auth: token gives every Ray process the mode and the token as a file from the Secret, never a value', () => {
    const userInit = {
      name: 'wait',
      image: 'busybox',
      command: ['sh', '-c', 'ray health-check --address=ray-head:6379'],
    };
    const r = render([head({}, { initContainers: [userInit] }), client, autoscaled], { auth: 'token' });
    expect(r.exitCode).toBe(0);
    const headPod = podOf(r.items, 'ray-head');
    expect(headPod.containers[0].env).toEqual(expect.arrayContaining(TOKEN_ENV));
    expect(headPod.containers[0].volumeMounts).toContainEqual(TOKEN_MOUNT);
    expect(headPod.initContainers.find((c: Obj) => c.name === 'wait').env).toEqual(expect.arrayContaining(TOKEN_ENV));
    // Only the token's key of the Secret, read-only; the value is nowhere in the output.
    expect(headPod.volumes).toContainEqual({
      name: 'ray-tls-auth-token',
      secret: { secretName: 'ray-auth-token', items: [{ key: 'auth_token', path: 'auth_token' }] },
    });
    expect(JSON.stringify(r.items)).not.toMatch(/"RAY_AUTH_TOKEN"|secretKeyRef/);
    expect(JSON.stringify(headPod.initContainers.find((c: Obj) => c.name === 'ray-tls-init').env)).not.toContain(
      'RAY_AUTH',
    );
    expect(podOf(r.items, 'django').containers[0].env).toEqual(expect.arrayContaining(TOKEN_ENV));
    // A KubeRay cluster gets its token through authOptions: the operator sets the env on every
    // container it starts (the autoscaler included) and uses the token for its own dashboard calls.
    const rc = r.items.find((i) => i.kind === 'RayCluster')!;
    expect(rc.spec.authOptions).toEqual({ mode: 'token', secretName: 'ray-auth-token' });
    expect(JSON.stringify(rc)).not.toContain('RAY_AUTH');
    expect(r.results.filter((x) => /unauthenticated HTTP/.test(x.message))).toEqual([]);
    expect(r.results.map((x) => x.message)).toContain(
      'token authentication: every Ray process reads the token from the file RAY_AUTH_TOKEN_PATH ' +
        '(/etc/ray/auth/auth_token), mounted from Secret ray-auth-token (key auth_token) into the containers that ' +
        'talk to Ray only (KubeRay clusters: through authOptions); create it in each namespace before the pods ' +
        'start (ray-tls token)',
    );
  });

  it("KubeRay's authOptions: the operator sets the token there, ray-tls adds TLS only", () => {
    const own = { ...autoscaled, spec: { ...autoscaled.spec, authOptions: { mode: 'token' } } };
    const r = render([own], { auth: 'token' });
    expect(JSON.stringify(r.items)).not.toContain('RAY_AUTH_MODE');
    expect(r.results.some((x) => x.severity === 'info' && /authOptions/.test(x.message))).toBe(true);
  });

  it(
    'without it: one warning per run that names 8265, 52365 and the runtime-env agent and says how to turn ' + 'it on',
    () => {
      const r = render([
        head(),
        deployment('ray-worker', {
          containers: [
            { name: 'w', image: 'rayproject/ray:2.58.0', command: ['ray', 'start', '--address=ray-head:6379'] },
          ],
        }),
      ]);
      const warnings = r.results.filter((x) => /unauthenticated HTTP/.test(x.message));
      expect(warnings).toHaveLength(1);
      expect(warnings[0].message).toMatch(/8265.*52365.*runtime-env agent.*auth: token/);
    },
  );
});

describe('hostNetwork', () => {
  it('a Ray node on the host network: a warning that says what it means for its certificate', () => {
    const r = render([head({}, { hostNetwork: true })]);
    const w = r.results.find((x) => /hostNetwork/.test(x.message))!;
    expect(w.severity).toBe('warning');
    expect(w.message).toMatch(/certificate names that IP/);
    expect(w.field?.path).toBe('spec.template.spec.hostNetwork');
  });
});
