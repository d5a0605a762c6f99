// Rotation that never splits a cluster (issue 16): CA settings, the trust bundle, the
// dangerous order. The bundle script runs with the real sh and openssl.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { run } from '../../src/function/run.js';
import { TRUST_SCRIPT } from '../../src/tls/trust.js';
import { RAY_CLIENT as client, RAY_HEAD as head, resourceList } from '../support/emitted.js';

type Obj = Record<string, any>;
const render = (items: Obj[], spec: Obj) => {
  const out = run(resourceList(items, spec));
  return { ...out, items: (parse(out.stdout) as Obj).items as Obj[] };
};
const named = (items: Obj[], kind: string, name: string) =>
  items.find((i) => i.kind === kind && i.metadata.name === name);
const pod = (items: Obj[], name: string) => named(items, 'Deployment', name)!.spec.template.spec;

describe('CA certificates', () => {
  it('keep their key on renewal and renew one leaf lifetime before they expire', () => {
    const ca = named(render([head], {}).items, 'Certificate', 'ray-tls-ca')!;
    expect(ca.spec.privateKey.rotationPolicy).toBe('Never');
    expect(ca.spec.renewBefore).toBe('8760h'); // the leaf duration
    const leaf = named(render([client], {}).items, 'Certificate', 'django-ray-tls-client')!;
    expect(leaf.spec.privateKey.rotationPolicy).toBe('Always');
  });
});

describe('ca.trust', () => {
  const step1 = { ca: { trust: ['ray-tls-ca-2'] } };
  it('issues the new CA beside the old one, which still signs', () => {
    const r = render([head, client], step1);
    expect(r.exitCode).toBe(0);
    expect(named(r.items, 'Certificate', 'ray-tls-ca-2')!.spec).toMatchObject({
      isCA: true,
      secretName: 'ray-tls-ca-2',
      commonName: 'ray-tls CA ray-tls-ca-2 (ray)',
    });
    expect(named(r.items, 'Issuer', 'ray-tls-ca-2')).toBeUndefined();
    expect(named(r.items, 'Certificate', 'django-ray-tls-client')!.spec.issuerRef.name).toBe('ray-tls-ca');
  });

  it('per-pod nodes: the init container bundles the CA certificate (tls.crt) of each trusted Secret, no key', () => {
    const spec = pod(render([head], step1).items, 'ray-head');
    const trust = spec.volumes.find((v: Obj) => v.name === 'ray-tls-trust');
    expect(trust).toEqual({
      name: 'ray-tls-trust',
      projected: {
        sources: [{ secret: { name: 'ray-tls-ca-2', items: [{ key: 'tls.crt', path: 'ray-tls-ca-2.crt' }] } }],
      },
    });
    const init = spec.initContainers[0];
    expect(init.env).toContainEqual({ name: 'CA_TRUST_DIR', value: '/etc/ray/tls-trust' });
    expect(init.volumeMounts).toContainEqual({
      name: 'ray-tls-trust',
      mountPath: '/etc/ray/tls-trust',
      readOnly: true,
    });
    // The Ray container mounts neither the CA Secret nor the trusted ones.
    expect(spec.containers[0].volumeMounts).toEqual([{ name: 'ray-tls', mountPath: '/etc/ray/tls', readOnly: true }]);
  });

  it('clients: an init container builds the bundle into the in-memory volume the Ray process reads', () => {
    const spec = pod(render([client], step1).items, 'django');
    expect(spec.initContainers.map((c: Obj) => c.name)).toEqual(['ray-tls-trust']);
    expect(spec.volumes).toEqual([
      { name: 'ray-tls', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } },
      { name: 'ray-tls-secret', secret: { secretName: 'django-ray-tls-client' } },
      {
        name: 'ray-tls-trust',
        // The signing CA and the trusted one: their own certificates, first in tls.crt; never tls.key.
        projected: {
          sources: ['ray-tls-ca', 'ray-tls-ca-2'].map((name) => ({
            secret: { name, items: [{ key: 'tls.crt', path: `${name}.crt` }] },
          })),
        },
      },
    ]);
    expect(spec.containers[0].volumeMounts).toEqual([{ name: 'ray-tls', mountPath: '/etc/ray/tls', readOnly: true }]);
  });

  it('the bundle script: both CAs verify, and the key stays 0600', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ray-tls-trust-'));
    const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    for (const ca of ['old', 'new']) {
      ssl(
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-subj',
        `/CN=${ca} CA`,
        '-days',
        '30',
        '-keyout',
        `${ca}.key`,
        '-out',
        `${ca}.crt`,
      );
      ssl(
        'req',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-subj',
        `/CN=${ca} leaf`,
        '-keyout',
        `${ca}-leaf.key`,
        '-out',
        `${ca}-leaf.csr`,
      );
      ssl(
        'x509',
        '-req',
        '-in',
        `${ca}-leaf.csr`,
        '-CA',
        `${ca}.crt`,
        '-CAkey',
        `${ca}.key`,
        '-set_serial',
        '7',
        '-days',
        '10',
        '-out',
        `${ca}-leaf.crt`,
      );
    }
    const secret = join(dir, 'secret');
    const trustDir = join(dir, 'trust');
    const out = join(dir, 'out');
    for (const d of [secret, trustDir, out]) mkdirSync(d);
    writeFileSync(join(secret, 'ca.crt'), readFileSync(join(dir, 'old.crt')));
    writeFileSync(join(secret, 'tls.crt'), readFileSync(join(dir, 'old-leaf.crt')));
    writeFileSync(join(secret, 'tls.key'), readFileSync(join(dir, 'old-leaf.key')));
    writeFileSync(join(trustDir, 'ray-tls-ca.crt'), readFileSync(join(dir, 'old.crt')));
    writeFileSync(join(trustDir, 'ray-tls-ca-2.crt'), readFileSync(join(dir, 'new.crt')));
    const r = spawnSync('sh', ['-c', TRUST_SCRIPT], {
      env: { PATH: process.env.PATH, SECRET_DIR: secret, TRUST_DIR: trustDir, CERT_DIR: out },
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('ray-tls: trusting 2 CA certificate(s)\n');
    for (const leaf of ['old-leaf.crt', 'new-leaf.crt']) ssl('verify', '-CAfile', join(out, 'ca.crt'), leaf);
    expect(readFileSync(join(out, 'tls.key'), 'utf8')).toBe(readFileSync(join(dir, 'old-leaf.key'), 'utf8'));
    expect(execFileSync('stat', ['-c', '%a', join(out, 'tls.key')], { encoding: 'utf8' }).trim()).toBe('600');
  });
});

describe('the dangerous order', () => {
  const step2 = { ca: { name: 'ray-tls-ca-2', trust: ['ray-tls-ca'] } };
  it('signing with a CA the rendered pods do not trust yet is an error that names step 1', () => {
    const step0 = run(resourceList([head, client], {}));
    const list = parse(step0.stdout) as Obj;
    const again = run(resourceList(list.items, step2));
    expect(again.exitCode).toBe(1);
    const errors = again.results.filter((x) => x.severity === 'error');
    expect(errors.map((e) => e.resourceRef?.name).sort()).toEqual(['django', 'ray-head']);
    expect(errors[0].message).toMatch(
      /trusting only ray-tls-ca; signing with ray-tls-ca-2 now splits the cluster.*Do step 1 of the CA rotation first/,
    );
    // After a compromise there is no overlap to wait for: the user says so.
    expect(run(resourceList(list.items, { ca: { name: 'ray-tls-ca-2', noOverlap: true } })).exitCode).toBe(0);
  });

  it('after step 1 (every pod trusts both), the switch goes through, and step 3 after it', () => {
    const step1 = parse(run(resourceList([head, client], { ca: { trust: ['ray-tls-ca-2'] } })).stdout) as Obj;
    const two = run(resourceList(step1.items, step2));
    expect(two.exitCode, two.stderr.join('\n')).toBe(0);
    const items = (parse(two.stdout) as Obj).items as Obj[];
    // The client's leaf now comes from the new CA's Issuer: cert-manager re-issues it.
    expect(named(items, 'Certificate', 'django-ray-tls-client')!.spec.issuerRef.name).toBe('ray-tls-ca-2');
    expect(pod(items, 'ray-head').volumes.find((v: Obj) => v.name === 'ray-tls-ca').secret.secretName).toBe(
      'ray-tls-ca-2',
    );
    const three = run(resourceList(items, { ca: { name: 'ray-tls-ca-2' } }));
    expect(three.exitCode, three.stderr.join('\n')).toBe(0);
    const final = (parse(three.stdout) as Obj).items as Obj[];
    expect(named(final, 'Certificate', 'ray-tls-ca')).toBeUndefined();
    expect(named(final, 'Certificate', 'ray-tls-ca-2')!.spec.secretName).toBe('ray-tls-ca-2');
    // The rotation is over: the bundle's pieces leave the pods again.
    const django = pod(final, 'django');
    expect(django.initContainers ?? []).toEqual([]);
    expect(django.volumes).toEqual([{ name: 'ray-tls', secret: { secretName: 'django-ray-tls-client' } }]);
    const headPod = pod(final, 'ray-head');
    expect(headPod.volumes.map((v: Obj) => v.name)).toEqual(['ray-tls', 'ray-tls-ca']);
    expect(headPod.initContainers[0].env.map((e: Obj) => e.name)).not.toContain('CA_TRUST_DIR');
  });
});
