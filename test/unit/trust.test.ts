// What a Ray pod trusts under ca.issuerRef (issue 22): the namespace CA's own certificate, never
// the corporate root or the issuing intermediate. A corporate PKI laid out as cert-manager does
// (test/ray/issuer.ts: root -> issuing CA -> namespace CAs), the emitted trust init container's
// script run by the real sh, and `ray-tls check` against TLS servers presenting those chains.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { checkCommand } from '../../src/cli/check.js';
import { run } from '../../src/function/run.js';
import { corporatePki, issueCertificates, secretDirs, siblingCa, splitPem } from '../ray/issuer.js';
import { RAY_CLIENT as client, RAY_HEAD as head, resourceList } from '../support/emitted.js';

type Obj = Record<string, any>;
const NS = 'ray';
const issuerRef = { ca: { issuerRef: { name: 'corp-issuing', kind: 'ClusterIssuer' } } };

function render(spec: Obj): { items: Obj[]; results: Obj[] } {
  const out = run(resourceList([head, client], spec));
  expect(out.exitCode, out.stderr.join('\n')).toBe(0);
  return parse(out.stdout) as { items: Obj[]; results: Obj[] };
}
const podSpec = (items: Obj[], name: string): Obj =>
  items.find((i) => i.kind === 'Deployment' && i.metadata.name === name)!.spec.template.spec;

describe('ca.issuerRef: a pod trusts its namespace CA, not the corporate root', () => {
  let work = '';
  let items: Obj[] = [];
  let ours: Record<string, string> = {};
  let theirs: Record<string, string> = {};
  const servers: Server[] = [];
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'ray-tls-trust-'));
    ({ items } = render(issuerRef));
    const issued = issueCertificates(
      [
        ...corporatePki(),
        ...items,
        // A server leaf from our namespace CA (what a pod-dns node mounts), for check below.
        {
          kind: 'Certificate',
          metadata: { name: 'node', namespace: NS },
          spec: {
            secretName: 'node',
            ipAddresses: ['127.0.0.1'],
            usages: ['server auth', 'client auth'],
            issuerRef: { name: 'ray-tls-ca' },
          },
        },
        ...siblingCa('other', { nodes: ['sibling-node'], clients: ['sibling-client'] }),
      ],
      join(work, 'secrets'),
      { clusterResourceNamespace: 'cert-manager' },
    );
    ours = secretDirs(issued, NS);
    theirs = secretDirs(issued, 'other');
  });
  afterAll(() => {
    for (const s of servers) s.close();
  });

  it('the namespace CA Secret and every leaf Secret hold the root in ca.crt (as cert-manager lays them out)', () => {
    const root = readFileSync(join(ours['ray-tls-ca']!, 'ca.crt'), 'utf8');
    expect(splitPem(readFileSync(join(ours['ray-tls-ca']!, 'tls.crt'), 'utf8'))).toHaveLength(2);
    expect(readFileSync(join(ours['django-ray-tls-client']!, 'ca.crt'), 'utf8')).toBe(root);
    expect(readFileSync(join(theirs['sibling-client']!, 'ca.crt'), 'utf8')).toBe(root);
  });

  it('the client gets an init container that keeps only the namespace CA certificate; no CA key anywhere', () => {
    const spec = podSpec(items, 'django');
    expect(spec.initContainers.map((c: Obj) => c.name)).toEqual(['ray-tls-trust']);
    const trust = spec.volumes.find((v: Obj) => v.name === 'ray-tls-trust');
    expect(trust.projected.sources).toEqual([
      { secret: { name: 'ray-tls-ca', items: [{ key: 'tls.crt', path: 'ray-tls-ca.crt' }] } },
    ]);
    // The CA Secret reaches the pod only through that projection: no volume mounts it whole.
    const caSources = spec.volumes.flatMap((v: Obj) =>
      [v.secret?.secretName, ...(v.projected?.sources ?? []).map((x: Obj) => x.secret?.name)].filter(
        (n) => n === 'ray-tls-ca',
      ),
    );
    expect(caSources).toEqual(['ray-tls-ca']);
    expect(spec.containers[0].volumeMounts).toEqual([{ name: 'ray-tls', mountPath: '/etc/ray/tls', readOnly: true }]);
  });

  it('pod-dns and shared nodes, whose certificate is a Secret, get the same trust init container', () => {
    for (const mode of ['pod-dns', 'shared']) {
      const spec = podSpec(render({ ...issuerRef, mode }).items, 'ray-head');
      expect(
        spec.initContainers.map((c: Obj) => c.name),
        mode,
      ).toEqual(['ray-tls-trust']);
      expect(spec.volumes.find((v: Obj) => v.name === 'ray-tls-trust').projected.sources, mode).toEqual([
        { secret: { name: 'ray-tls-ca', items: [{ key: 'tls.crt', path: 'ray-tls-ca.crt' }] } },
      ]);
    }
    // With the default self-signed CA the Secret's ca.crt is the CA itself: nothing is added.
    expect(podSpec(render({ mode: 'pod-dns' }).items, 'ray-head').initContainers).toBeUndefined();
  });

  it('the result says what every pod trusts', () => {
    const { results } = render(issuerRef);
    expect(results.map((r) => r.message)).toContainEqual(
      expect.stringMatching(/^trust: every Ray pod and client trusts the CA certificate of Secret ray-tls-ca and/),
    );
  });

  /** The emitted trust script, run by sh over the client's Secret and the CA Secret's tls.crt. */
  function runTrustScript(secret: string): string {
    const init = podSpec(items, 'django').initContainers[0];
    const out = join(work, `bundle-${Math.random().toString(36).slice(2)}`);
    const trustDir = join(work, `trust-${Math.random().toString(36).slice(2)}`);
    mkdirSync(out);
    mkdirSync(trustDir);
    spawnSync('cp', [join(ours['ray-tls-ca']!, 'tls.crt'), join(trustDir, 'ray-tls-ca.crt')]);
    const r = spawnSync(init.command[0], init.command.slice(1), {
      env: { PATH: process.env.PATH, SECRET_DIR: secret, TRUST_DIR: trustDir, CERT_DIR: out },
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('ray-tls: trusting 1 CA certificate(s)\n');
    return out;
  }

  it('the trust script: ca.crt is the namespace CA alone; ours verifies as Ray checks, the sibling does not', () => {
    const out = runTrustScript(ours['django-ray-tls-client']!);
    const nsCa = splitPem(readFileSync(join(ours['ray-tls-ca']!, 'tls.crt'), 'utf8'))[0];
    expect(readFileSync(join(out, 'ca.crt'), 'utf8')).toBe(nsCa);
    const verify = (chainDir: string) => {
      const chain = join(chainDir, 'tls.crt');
      return spawnSync(
        'openssl',
        ['verify', '-partial_chain', '-CAfile', join(out, 'ca.crt'), '-untrusted', chain, chain],
        {
          encoding: 'utf8',
        },
      );
    };
    expect(verify(ours.node!).status).toBe(0);
    const refused = verify(theirs['sibling-node']!);
    expect(refused.status).not.toBe(0);
    expect(refused.stdout + refused.stderr).toContain('unable to get local issuer certificate');
    // The root (the Secret's ca.crt, what pods trusted before) lets the sibling in.
    const viaRoot = spawnSync('openssl', [
      ...['verify', '-CAfile', join(ours['django-ray-tls-client']!, 'ca.crt')],
      ...['-untrusted', join(theirs['sibling-node']!, 'tls.crt'), join(theirs['sibling-node']!, 'tls.crt')],
    ]);
    expect(viaRoot.status).toBe(0);
  });

  /** A TLS server presenting a Secret's chain (leaf + namespace CA + issuing CA), as a Ray node does. */
  async function serve(dir: string): Promise<number> {
    const server = createServer(
      { key: readFileSync(join(dir, 'tls.key')), cert: readFileSync(join(dir, 'tls.crt')), ALPNProtocols: ['h2'] },
      (s) => s.end(),
    );
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return (server.address() as { port: number }).port;
  }
  async function check(port: number, ca: string): Promise<{ code: number; out: string }> {
    let out = '';
    const code = await checkCommand([`127.0.0.1:${port}`, '--ca', ca, '--json'], {
      stdout: (s) => (out += s),
      stderr: (s) => (out += s),
    });
    return { code, out };
  }

  it('ray-tls check verifies a chain against the namespace CA alone (as Ray does), not a sibling', async () => {
    const out = runTrustScript(ours['django-ray-tls-client']!);
    const good = JSON.parse((await check(await serve(ours.node!), join(out, 'ca.crt'))).out);
    expect(good.verified).toEqual({ ok: true, error: null });
    expect(good.chain).toHaveLength(3);
    const bad = JSON.parse((await check(await serve(theirs['sibling-node']!), join(out, 'ca.crt'))).out);
    expect(bad.verified.ok).toBe(false);
    expect(bad.verified.error).toMatch(/UNABLE_TO_GET_ISSUER_CERT/);
  });
});
