import { describe, expect, it } from 'vitest';
import { ConfigError, type ConfigProblem, DEFAULTS, durationHours, readConfig } from '../../src/config/config.js';
import type { Json } from '../../src/yaml/json.js';

const rayTls = (spec: Record<string, Json>): Json => ({
  apiVersion: 'ray-tls.io/v1alpha1',
  kind: 'RayTLS',
  metadata: { name: 'tls' },
  spec,
});
const configMap = (data: Record<string, string>): Json => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'function-input' },
  data,
});

/** The problems a config is rejected with (fails the test when it is accepted). */
function problems(functionConfig: Json): ConfigProblem[] {
  try {
    readConfig(functionConfig);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).problems;
  }
  throw new Error('config was accepted');
}
const fields = (functionConfig: Json) => problems(functionConfig).map((p) => p.field);

describe('defaults', () => {
  it.each([
    ['absent', undefined],
    ['null', null],
    ['{}', {}],
    ["kpt's empty ConfigMap", configMap({})],
    ['a ConfigMap without data', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'function-input' } }],
    ['a RayTLS without spec', { apiVersion: 'ray-tls.io/v1alpha1', kind: 'RayTLS', metadata: { name: 'tls' } }],
  ])('%s gives the django-ray defaults', (_, fc) => {
    expect(readConfig(fc as Json)).toEqual({
      mode: 'per-pod',
      mountPath: '/etc/ray/tls',
      privateKey: { algorithm: 'RSA', size: 4096 },
      duration: '8760h',
      renewBefore: '720h',
      clusterDomain: 'cluster.local',
      ca: { name: 'ray-tls-ca', trust: [], duration: '43800h', renewBefore: '8760h', noOverlap: false },
      certManager: true,
      validate: false,
      clientSelector: {},
      auth: 'none',
      authSecret: { name: 'ray-auth-token', key: 'auth_token' },
    });
  });

  it('DEFAULTS is what an absent config gives', () => {
    expect(readConfig(undefined)).toEqual(DEFAULTS);
  });
});

describe('the RayTLS typed form', () => {
  it('reads every field', () => {
    const config = readConfig(
      rayTls({
        mode: 'shared',
        mountPath: '/tls/',
        privateKey: { algorithm: 'ECDSA', size: 384 },
        duration: '2160h',
        renewBefore: '360h',
        clusterDomain: 'corp.example',
        ca: { issuerRef: { name: 'root', kind: 'Issuer' }, duration: '87600h' },
        initImage: 'alpine/openssl:3',
        clientSelector: { matchLabels: { app: 'django' } },
      }),
    );
    expect(config).toEqual({
      mode: 'shared',
      mountPath: '/tls', // trailing slash dropped: env values are built as `${mountPath}/tls.crt`
      privateKey: { algorithm: 'ECDSA', size: 384 },
      duration: '2160h',
      renewBefore: '360h',
      clusterDomain: 'corp.example',
      // The CA renews one leaf lifetime (duration) before it expires, unless ca.renewBefore says longer.
      ca: {
        name: 'ray-tls-ca',
        trust: [],
        issuerRef: { name: 'root', kind: 'Issuer', group: 'cert-manager.io' },
        duration: '87600h',
        renewBefore: '2160h',
        noOverlap: false,
      },
      certManager: true,
      validate: false,
      initImage: 'alpine/openssl:3',
      clientSelector: { app: 'django' },
      auth: 'none',
      authSecret: { name: 'ray-auth-token', key: 'auth_token' },
    });
  });

  it('ECDSA without a size defaults to 256, not the RSA 4096', () => {
    expect(readConfig(rayTls({ privateKey: { algorithm: 'ECDSA' } })).privateKey).toEqual({
      algorithm: 'ECDSA',
      size: 256,
    });
  });

  it('an existing CA Secret', () => {
    expect(readConfig(rayTls({ ca: { secretName: 'my-ca' } })).ca).toEqual({
      name: 'ray-tls-ca',
      trust: [],
      secretName: 'my-ca',
      duration: '43800h',
      renewBefore: '8760h',
      noOverlap: false,
    });
  });

  it('certManager: false, also as the ConfigMap string "false"', () => {
    expect(readConfig(rayTls({ certManager: false, ca: { secretName: 'my-ca' } })).certManager).toBe(false);
    expect(readConfig(configMap({ certManager: 'false' })).certManager).toBe(false);
    expect(fields(rayTls({ certManager: 'no' }))).toEqual(['functionConfig.spec.certManager']);
    expect(fields(rayTls({ certManager: false, ca: { issuerRef: { name: 'corp' } } }))).toEqual([
      'functionConfig.spec.ca.issuerRef',
    ]);
  });
});

describe('the ConfigMap flat form', () => {
  it('reads dotted keys and string numbers', () => {
    const config = readConfig(
      configMap({
        mode: 'shared',
        'privateKey.size': '2048',
        'privateKey.algorithm': 'RSA',
        'ca.issuerRef.name': 'corp-ca',
        'ca.issuerRef.kind': 'Issuer',
      }),
    );
    expect(config.mode).toBe('shared');
    expect(config.privateKey).toEqual({ algorithm: 'RSA', size: 2048 });
    expect(config.ca.issuerRef).toEqual({ name: 'corp-ca', kind: 'Issuer', group: 'cert-manager.io' });
  });

  it('an issuerRef given only by name is an Issuer, as in cert-manager', () => {
    expect(readConfig(configMap({ 'ca.issuerRef.name': 'corp-ca' })).ca.issuerRef).toEqual({
      name: 'corp-ca',
      kind: 'Issuer',
      group: 'cert-manager.io',
    });
  });

  it('clientSelector "a=b,c=d" is matchLabels {a: b, c: d}', () => {
    expect(readConfig(configMap({ clientSelector: 'a=b,c=d' })).clientSelector).toEqual({ a: 'b', c: 'd' });
    expect(readConfig(configMap({ clientSelector: ' a = b , c = d ' })).clientSelector).toEqual({ a: 'b', c: 'd' });
    expect(readConfig(configMap({ clientSelector: '' })).clientSelector).toEqual({});
  });

  // A dotted key walks the config object: `__proto__` must not reach Object.prototype.
  it('a ConfigMap key "__proto__.polluted" is rejected and pollutes nothing', () => {
    expect(fields(configMap({ '__proto__.polluted': 'yes' }))).toEqual(['functionConfig.data.__proto__.polluted']);
    try {
      try {
        readConfig(configMap({ '__proto__.polluted': 'yes' }));
      } catch {
        // rejecting the key is fine; polluting is not
      }
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    } finally {
      delete (Object.prototype as Record<string, unknown>).polluted;
    }
  });

  it('a clientSelector entry without "=" is rejected with the expected form', () => {
    expect(problems(configMap({ clientSelector: 'app' }))).toEqual([
      {
        field: 'functionConfig.data.clientSelector',
        message:
          '"app" is not a label selector; write key=value pairs separated by commas, ' +
          'such as app=django-ray,tier=worker',
      },
    ]);
  });

  it('problems are named by the flat key', () => {
    expect(fields(configMap({ 'privateKey.size': '1024' }))).toEqual(['functionConfig.data.privateKey.size']);
    expect(fields(configMap({ 'privateKey.size': 'big' }))).toEqual(['functionConfig.data.privateKey.size']);
    expect(fields(configMap({ colour: 'blue' }))).toEqual(['functionConfig.data.colour']);
  });
});

describe('validation', () => {
  it('every problem names the field path and the fix, all at once', () => {
    const found = problems(
      rayTls({
        mode: 'mutual',
        privateKey: { algorithm: 'RSA', size: 1024 },
        duration: 'one year',
        mountpath: '/tls',
        ca: { issuerRef: { kind: 'Issuer' }, secretName: 'my-ca' },
      }),
    );
    const byField = Object.fromEntries(found.map((p) => [p.field, p.message]));
    expect(Object.keys(byField).sort()).toEqual([
      'functionConfig.spec.ca',
      'functionConfig.spec.ca.issuerRef.name',
      'functionConfig.spec.duration',
      'functionConfig.spec.mode',
      'functionConfig.spec.mountpath',
      'functionConfig.spec.privateKey.size',
    ]);
    expect(byField['functionConfig.spec.mode']).toMatch(/use per-pod .* or shared/);
    expect(byField['functionConfig.spec.privateKey.size']).toMatch(
      /use one of 2048, 3072, 4096, 8192 \(2048 is the minimum\)/,
    );
    expect(byField['functionConfig.spec.duration']).toMatch(/write hours like 8760h/);
    expect(byField['functionConfig.spec.mountpath']).toBe('unknown field; did you mean mountPath?');
    expect(byField['functionConfig.spec.ca']).toMatch(/either issuerRef .* or secretName .*not both/);
    expect(byField['functionConfig.spec.ca.issuerRef.name']).toMatch(/is required/);
  });

  it('the ConfigError message lists field: message pairs', () => {
    expect(() => readConfig(rayTls({ privateKey: { size: 1024 } }))).toThrow(
      /^functionConfig\.spec\.privateKey\.size: 1024 is not a valid RSA key size/,
    );
  });

  it('unknown fields at every level', () => {
    expect(fields({ ...(rayTls({}) as object), status: {} })).toEqual(['functionConfig.status']);
    expect(fields(rayTls({ privateKey: { bits: 2048 } }))).toEqual(['functionConfig.spec.privateKey.bits']);
    expect(problems(rayTls({ privateKey: { bits: 2048 } }))[0].message).toBe(
      'unknown field; known fields here: algorithm, size',
    );
    expect(fields(rayTls({ ca: { issuer: 'x' } }))).toEqual(['functionConfig.spec.ca.issuer']);
    expect(fields(rayTls({ clientSelector: { app: 'x' } }))).toEqual(['functionConfig.spec.clientSelector.app']);
  });

  it('a RayTLS of another apiVersion', () => {
    expect(problems({ apiVersion: 'ray-tls.io/v1', kind: 'RayTLS', spec: {} })).toEqual([
      { field: 'functionConfig.apiVersion', message: 'must be ray-tls.io/v1alpha1, got "ray-tls.io/v1"' },
    ]);
  });

  it('another kind', () => {
    const [p] = problems({ apiVersion: 'v1', kind: 'Secret', data: {} });
    expect(p.field).toBe('functionConfig.kind');
    expect(p.message).toContain('use kind RayTLS (apiVersion ray-tls.io/v1alpha1) or a ConfigMap');
  });

  it('a config that is not a mapping', () => {
    expect(fields('mode=shared')).toEqual(['functionConfig']);
  });

  it('RSA keys below 2048 are rejected, ECDSA takes only curve sizes', () => {
    for (const size of [512, 1024, 2047])
      expect(fields(rayTls({ privateKey: { algorithm: 'RSA', size } }))).toEqual([
        'functionConfig.spec.privateKey.size',
      ]);
    for (const size of [2048, 3072, 4096, 8192])
      expect(readConfig(rayTls({ privateKey: { algorithm: 'RSA', size } })).privateKey.size).toBe(size);
    for (const size of [256, 384, 521])
      expect(readConfig(rayTls({ privateKey: { algorithm: 'ECDSA', size } })).privateKey.size).toBe(size);
    expect(problems(rayTls({ privateKey: { algorithm: 'ECDSA', size: 2048 } }))[0].message).toBe(
      '2048 is not a valid ECDSA key size; use one of 256, 384, 521',
    );
    expect(fields(rayTls({ privateKey: { algorithm: 'Ed25519' } }))).toEqual([
      'functionConfig.spec.privateKey.algorithm',
    ]);
  });

  it('renewBefore must be shorter than duration', () => {
    expect(problems(rayTls({ duration: '720h', renewBefore: '720h' }))).toEqual([
      { field: 'functionConfig.spec.renewBefore', message: '720h must be shorter than duration 720h' },
    ]);
    // A short duration alone collides with the default renewBefore (720h): the message says so.
    expect(problems(rayTls({ duration: '24h' }))).toEqual([
      { field: 'functionConfig.spec.renewBefore', message: '720h must be shorter than duration 24h' },
    ]);
    expect(readConfig(rayTls({ duration: '24h', renewBefore: '8h' })).renewBefore).toBe('8h');
  });

  it('durations shorter than an hour are rejected', () => {
    expect(problems(rayTls({ duration: '30m' }))[0]).toEqual({
      field: 'functionConfig.spec.duration',
      message: '"30m" is shorter than one hour',
    });
  });

  it('issuerRef and secretName together are rejected', () => {
    expect(fields(rayTls({ ca: { issuerRef: { name: 'corp' }, secretName: 'my-ca' } }))).toEqual([
      'functionConfig.spec.ca',
    ]);
  });

  it('issuerRef kind must be Issuer or ClusterIssuer', () => {
    expect(fields(rayTls({ ca: { issuerRef: { name: 'corp', kind: 'Certificate' } } }))).toEqual([
      'functionConfig.spec.ca.issuerRef.kind',
    ]);
  });

  it('names and paths', () => {
    expect(fields(rayTls({ mountPath: 'etc/tls' }))).toEqual(['functionConfig.spec.mountPath']);
    expect(fields(rayTls({ mountPath: '/etc/../tls' }))).toEqual(['functionConfig.spec.mountPath']);
    expect(fields(rayTls({ clusterDomain: 'Cluster_Local' }))).toEqual(['functionConfig.spec.clusterDomain']);
    expect(fields(rayTls({ ca: { secretName: 'My_CA' } }))).toEqual(['functionConfig.spec.ca.secretName']);
    expect(fields(rayTls({ mode: '' }))).toEqual(['functionConfig.spec.mode']);
    expect(fields(rayTls({ privateKey: 'RSA' }))).toEqual(['functionConfig.spec.privateKey']);
  });

  // The trailing-slash trim turns "/" into "": env RAY_TLS_SERVER_CERT=/tls.crt and a volumeMount with an empty
  // mountPath.
  it('mountPath "/" is rejected', () => {
    expect(fields(rayTls({ mountPath: '/' }))).toEqual(['functionConfig.spec.mountPath']);
  });

  it('label values in clientSelector must be strings', () => {
    expect(fields(rayTls({ clientSelector: { matchLabels: { tier: 1 } } }))).toEqual([
      'functionConfig.spec.clientSelector.matchLabels.tier',
    ]);
  });

  // cert-manager rejects a Certificate whose renewBefore is not shorter than its duration
  // ("certificate duration ... must be greater than renewBefore"). The CA Certificate uses
  // ca.duration with the leaf renewBefore, so this pair must be checked too.
  it('ca.duration not longer than renewBefore is rejected (the CA Certificate would be invalid)', () => {
    expect(fields(rayTls({ ca: { duration: '100h' } }))).toEqual(['functionConfig.spec.ca.duration']);
  });
});

describe('durationHours', () => {
  it.each([
    ['8760h', 8760],
    ['720h0m0s', 720],
    ['90m', 1.5],
    ['1h30m', 1.5],
    ['3600s', 1],
    ['0h', 0],
  ])('%s is %d hours', (text, hours) => {
    expect(durationHours(text)).toBe(hours);
  });

  it.each(['', '1d', '1y', '8760', 'h', '1H', '-1h', 'one year', '1.h', '1hh'])('%j is not a duration', (text) => {
    expect(durationHours(text)).toBeUndefined();
  });
});

describe('rotation settings (ca.name, ca.trust, ca.renewBefore)', () => {
  it('reads ca.trust as a list, or comma-separated from a ConfigMap', () => {
    expect(readConfig(rayTls({ ca: { trust: ['ray-tls-ca-2'] } })).ca.trust).toEqual(['ray-tls-ca-2']);
    expect(readConfig(configMap({ 'ca.trust': 'ray-tls-ca-2, ray-tls-ca-3' })).ca.trust).toEqual([
      'ray-tls-ca-2',
      'ray-tls-ca-3',
    ]);
    expect(readConfig(configMap({ 'ca.name': 'ray-tls-ca-2', 'ca.trust': 'ray-tls-ca' })).ca).toMatchObject({
      name: 'ray-tls-ca-2',
      trust: ['ray-tls-ca'],
    });
  });

  it('refuses a trust list that names the signing CA, or is not Secret names', () => {
    expect(fields(rayTls({ ca: { trust: ['ray-tls-ca'] } }))).toEqual(['functionConfig.spec.ca.trust']);
    expect(fields(rayTls({ ca: { name: 'new-ca', trust: ['new-ca'] } }))).toEqual(['functionConfig.spec.ca.trust']);
    expect(fields(rayTls({ ca: { trust: 'Not_A_Name' } }))).toEqual(['functionConfig.spec.ca.trust']);
    expect(fields(rayTls({ ca: { name: 'a', secretName: 'b' } }))).toEqual(['functionConfig.spec.ca']);
  });

  it('the CA renews at least one leaf lifetime before it expires, and says why when asked for less', () => {
    expect(readConfig(rayTls({ duration: '2160h' })).ca.renewBefore).toBe('2160h');
    expect(readConfig(rayTls({ ca: { renewBefore: '17520h' } })).ca.renewBefore).toBe('17520h');
    let problems: string[] = [];
    try {
      readConfig(rayTls({ duration: '8760h', ca: { renewBefore: '720h' } }));
    } catch (e) {
      problems = (e as ConfigError).problems.map((p) => `${p.field}: ${p.message}`);
    }
    expect(problems).toEqual([
      'functionConfig.spec.ca.renewBefore: 720h is shorter than the leaf duration 8760h: pods hold the CA ' +
        'certificate they started with for up to a leaf lifetime, so the CA must renew at least that long before it ' +
        'expires; set ca.renewBefore to 8760h or more',
    ]);
    // A one-year CA cannot renew a one-year leaf lifetime before it expires.
    expect(fields(rayTls({ ca: { duration: '8760h' } }))).toEqual(['functionConfig.spec.ca.duration']);
  });
});

describe('auth', () => {
  it('token or none, with the Secret of the token', () => {
    expect(readConfig(rayTls({ auth: 'token' }))).toMatchObject({
      auth: 'token',
      authSecret: { name: 'ray-auth-token', key: 'auth_token' },
    });
    expect(readConfig(configMap({ auth: 'token', 'authSecret.name': 'tok', 'authSecret.key': 'value' }))).toMatchObject(
      { auth: 'token', authSecret: { name: 'tok', key: 'value' } },
    );
    expect(fields(rayTls({ auth: 'password' }))).toEqual(['functionConfig.spec.auth']);
    expect(fields(rayTls({ authSecret: { name: 'Bad Name' } }))).toEqual(['functionConfig.spec.authSecret.name']);
  });
});

describe('key=value settings over a config (ray-tls helm KEY=VALUE)', () => {
  it('alone: read as flat keys, as a ConfigMap', () => {
    const c = readConfig(undefined, { mode: 'pod-dns', 'privateKey.size': '2048', clientSelector: 'app=x' });
    expect(c).toMatchObject({ mode: 'pod-dns', privateKey: { algorithm: 'RSA', size: 2048 } });
    expect(c.clientSelector).toEqual({ app: 'x' });
    expect(readConfig({}, { auth: 'token' }).auth).toBe('token');
  });

  it('over a ConfigMap: its keys, the settings winning', () => {
    const c = readConfig(configMap({ mode: 'shared', 'ca.name': 'a' }), { 'ca.name': 'b' });
    expect(c.mode).toBe('shared');
    expect(c.ca.name).toBe('b');
  });

  it('over a RayTLS: merged into spec field by field', () => {
    const c = readConfig(rayTls({ mode: 'shared', privateKey: { algorithm: 'ECDSA' }, ca: { name: 'a' } }), {
      'privateKey.size': '384',
      mode: 'per-pod',
    });
    expect(c).toMatchObject({ mode: 'per-pod', privateKey: { algorithm: 'ECDSA', size: 384 }, ca: { name: 'a' } });
  });

  it('a bad setting is a config problem naming its key', () => {
    try {
      readConfig(undefined, { mode: 'mutual', '__proto__.x': 'y' });
      throw new Error('accepted');
    } catch (e) {
      expect((e as ConfigError).problems.map((p) => p.field)).toEqual(['functionConfig.data.__proto__.x']);
    }
    expect(() => readConfig(undefined, { mode: 'mutual' })).toThrow(/mode: "mutual" is not a mode/);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });
});
