// An active man in the middle against the dev-tls manifests on real Ray (docs/design.md §5.1, §5.12).
//
// The head runs from k8s/overlays/dev-tls as rendered (its init container signs its leaf with
// the cluster CA that issuer.ts issued from the emitted Certificates). A TLS proxy
// (mitmProxy.mjs, plain node in its own local pod) holds a certificate from ANOTHER CA (made
// with openssl through issuer.ts) that names every ray-head Service name and the addresses.
// The worker pod, from the dev-tls template unmodified, has ray-head (and its FQDN variants)
// pointing at the proxy in its hosts file, as a poisoned DNS record would.
//   - the worker refuses the proxy's certificate (the proxy records its tlsClientError, the
//     alert the worker sent) and never joins: the head's node list has only the head;
//   - the proxy's onward connection to the real head:6379 with a client certificate of the
//     other CA is refused by the head.
//
// Run: npx vitest run --config test/ray/vitest.config.ts test/ray/mitm.e2e.test.ts (root;
// fails when the machine cannot run it, unless RAY_TLS_SKIP_REAL=1).
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { certificateText, issueCertificates, secretDirs, verifySecret } from './issuer.js';
import { type Pod, PodCluster, podFromTemplate } from './podRunner.js';
import {
  certManagerObjects,
  kustomize,
  logLines,
  NS,
  realRayRuns,
  realRayScratch,
  sessionLogs,
  startNode,
  template,
  tokenSecrets,
  waitFor,
} from './realRay.js';

const real = realRayRuns('real-Ray mitm test', ['node']);
const say = (msg: string) => console.log(`[mitm] ${msg}`);
const PROXY = join(dirname(fileURLToPath(import.meta.url)), 'mitmProxy.mjs');

interface MitmEvent {
  event: string;
  peer?: string;
  for?: string;
  accepted?: boolean;
  stage?: string;
  code?: string;
  reason?: string;
  message?: string;
  error?: string;
  [k: string]: unknown;
}

const events = (pod: Pod): MitmEvent[] =>
  pod
    .logs()
    .split('\n')
    .filter((l) => l.startsWith('MITM '))
    .map((l) => JSON.parse(l.slice(5)) as MitmEvent);
const what = (e: MitmEvent) => [e.code, e.reason, e.error ?? e.message?.split('\n')[0]].filter(Boolean).join(' / ');

// Alive flag by node address, from a driver in the head pod (as `kubectl exec` would run it).
const NODES_SCRIPT = String.raw`
import json, ray
ray.init(address="auto", logging_level="ERROR")
print("NODES " + json.dumps({n["NodeManagerAddress"]: n["Alive"] for n in ray.nodes()}))
`;

describe.runIf(real)('mitm: an interceptor with another CA between the worker and the head (dev-tls, real Ray)', () => {
  const scratch = realRayScratch('mitm', say);

  const title =
    'mitm: the worker rejects a proxy certificate of another CA and never joins; ' +
    'the head rejects the proxy client certificate of that CA';
  it(title, async (ctx) => {
    scratch.keep(ctx);
    const work = scratch.work;
    const started = Date.now();
    const items = kustomize('dev-tls');
    const head = template(items, 'ray-head');
    const worker = template(items, 'ray-worker');
    const issued = secretDirs(issueCertificates(certManagerObjects(items), join(work, 'secrets')), NS);
    // dev-tls is rendered with auth: token (k8s/ray-tls-config.yaml): the Ray containers read
    // the token file RAY_AUTH_TOKEN_PATH from the Secret ray-auth-token, which the user creates (`ray-tls token`).
    // The worker has the right token here: only the proxy's CA is wrong.
    const auth = tokenSecrets(items, join(work, 'auth'));
    expect(Object.keys(auth.secrets)).toEqual(['ray-auth-token']);
    const cluster = scratch.track(
      PodCluster.create({
        workDir: join(work, 'cluster'),
        namespace: NS,
        services: { 'ray-head': 'ray-head' },
        secrets: { ...issued, ...auth.secrets },
        rayVenv: scratch.venv,
      }),
    );
    const headIp = cluster.ipOf('ray-head');
    const proxyIp = cluster.ipOf('mitm');

    // The other CA and its leaf (openssl, through issuer.ts): the head's Service names and every
    // address involved, server and client auth. Only the CA is wrong.
    const svc = ['ray-head', `ray-head.${NS}`, `ray-head.${NS}.svc`, `ray-head.${NS}.svc.cluster.local`];
    const rogue = secretDirs(
      issueCertificates(
        [
          { kind: 'Issuer', metadata: { name: 'other-selfsigned', namespace: 'mitm' }, spec: { selfSigned: {} } },
          {
            kind: 'Certificate',
            metadata: { name: 'other-ca', namespace: 'mitm' },
            spec: {
              secretName: 'other-ca',
              isCA: true,
              commonName: 'ray-tls CA (django-ray)',
              issuerRef: { name: 'other-selfsigned' },
            },
          },
          {
            kind: 'Issuer',
            metadata: { name: 'other-ca', namespace: 'mitm' },
            spec: { ca: { secretName: 'other-ca' } },
          },
          {
            kind: 'Certificate',
            metadata: { name: 'mitm-tls', namespace: 'mitm' },
            spec: {
              secretName: 'mitm-tls',
              commonName: 'ray-head',
              dnsNames: [...svc, 'localhost'],
              ipAddresses: [proxyIp, headIp, '127.0.0.1'],
              usages: ['digital signature', 'key encipherment', 'server auth', 'client auth'],
              issuerRef: { name: 'other-ca' },
            },
          },
        ],
        join(work, 'rogue'),
      ),
      'mitm',
    );
    const rogueText = certificateText(join(rogue['mitm-tls']!, 'tls.crt'));
    expect(verifySecret(rogue['mitm-tls']!, 'sslserver').ok).toBe(true); // valid, for its own CA
    expect(verifySecret(rogue['mitm-tls']!, 'sslclient').ok).toBe(true);
    say(
      `other CA's leaf: ${/Subject: (.*)/.exec(rogueText)?.[1]}; issuer ${/Issuer: (.*)/.exec(rogueText)?.[1]}; ` +
        `SANs ${/Subject Alternative Name:.*\n\s*(.*)/.exec(rogueText)?.[1]}`,
    );

    const headPod = await startNode(cluster, 'ray-head', head);
    say(`ray-head (${headPod.ip}): ${logLines(headPod.logs(), /Ray runtime started/)[0]}`);
    const gcsErr = () => Object.values(sessionLogs(headPod, /^gcs_server\.err$/)).join('\n');
    const gcsMark = gcsErr().length; // what the head logged before the proxy existed
    const proxy = await cluster.startPod(
      {
        metadata: { name: 'mitm', namespace: NS },
        spec: {
          volumes: [{ name: 'tls', secret: { secretName: 'mitm-tls', defaultMode: 0o400 } }],
          containers: [
            {
              name: 'proxy',
              command: ['node', PROXY],
              env: [
                { name: 'MITM_TLS_DIR', value: '/etc/mitm' },
                { name: 'MITM_LISTEN_PORT', value: '6379' },
                { name: 'MITM_UPSTREAM', value: 'ray-head:6379' },
                { name: 'MITM_SERVERNAME', value: 'ray-head' },
              ],
              volumeMounts: [{ name: 'tls', mountPath: '/etc/mitm', readOnly: true }],
            },
          ],
        },
      },
      { secrets: { 'mitm-tls': rogue['mitm-tls']! } },
    );
    await proxy.waitForLog('MITM {"event":"listening"', { timeoutMs: 30_000 });
    expect(proxy.ip).toBe(proxyIp);

    // The worker, from the template as rendered; its hosts file says ray-head is the proxy.
    // startPod creates the pod's network and hosts file before its first await, so the entry is
    // rewritten before any container of the pod can resolve ray-head.
    const workerStarting = cluster.startPod(podFromTemplate('ray-worker-1', worker, NS));
    const hostsFile = join('/etc/netns', `${cluster.id}-ray-worker-1`, 'hosts');
    const hosts = readFileSync(hostsFile, 'utf8');
    const poisoned = hosts.replace(
      new RegExp(`^${headIp.replace(/\./g, '\\.')}(\\s+ray-head\\b.*)$`, 'm'),
      `${proxyIp}$1`,
    );
    expect(poisoned).not.toBe(hosts);
    writeFileSync(hostsFile, poisoned);
    say(`ray-worker-1 /etc/hosts: ${logLines(poisoned, /ray-head/)[0]}`);
    const workerPod = await workerStarting;

    // The worker dials the proxy, refuses its certificate, retries; the proxy goes onward.
    const fromWorker = (e: MitmEvent) => e.peer?.startsWith(`${workerPod.ip}:`) === true;
    await waitFor(
      () =>
        events(proxy).filter((e) => e.event === 'tlsClientError' && fromWorker(e)).length >= 3 &&
        events(proxy).some((e) => e.event === 'upstream')
          ? true
          : undefined,
      180_000,
      'the worker to refuse the proxy 3 times',
    );
    // Give the worker time to give up on GCS before asking the head (ray start logs this after 5 s).
    await workerPod.waitForLog('Failed to connect to GCS at address ray-head:6379', { timeoutMs: 90_000 });
    const all = events(proxy);
    const accepted = all.filter((e) => e.event === 'accepted' && fromWorker(e));
    const refused = all.filter((e) => e.event === 'tlsClientError' && fromWorker(e));
    const upstreams = all.filter((e) => e.event === 'upstream');
    say(
      `proxy: ${accepted.length} connections from ray-worker-1 (${workerPod.ip}), ${refused.length} TLS handshakes ` +
        `failed, ${all.filter((e) => e.event === 'downstreamAccepted').length} accepted`,
    );
    say(
      `proxy tlsClientError (worker -> proxy): ${what(refused[0]!)} after ${String(refused[0]!.bytesFromPeer)} ` +
        `bytes from the worker`,
    );
    for (const u of [...new Map(upstreams.map((u) => [`${u.stage} ${what(u)}`, u])).values()])
      say(
        `proxy upstream ` +
          `(proxy -> ray-head:6379 with the other CA's client certificate): accepted ${u.accepted}, ${u.stage}: ` +
          `${what(u)}`,
      );
    const handshakes = all.filter((e) => e.event === 'upstreamHandshake');
    if (handshakes.length)
      say(
        `proxy upstream: its client side of the handshake completed ${handshakes.length} ` +
          `times (${String(handshakes[0]!.protocol)}: the server checks the client certificate after that), ` +
          `${upstreams.length} answered so far, none accepted`,
      );

    // What the head's and the worker's own logs say (gRPC names no peer; the proxy is the only
    // client with a foreign certificate since gcsMark).
    const headSaw = logLines(gcsErr().slice(gcsMark), /Handshake failed/);
    say(
      `ray-head gcs_server.err since the proxy started: ${headSaw.length} x ` +
        `${headSaw[0]?.replace(/^.*?(Handshake failed)/, '$1')}`,
    );
    const workerSaw = logLines(workerPod.logs(), /Handshake failed/);
    say(
      `ray-worker-1 (gRPC, towards the proxy): ${workerSaw.length} x ` +
        `${workerSaw[0]?.replace(/^.*?(Handshake failed)/, '$1')}`,
    );
    say(`ray-worker-1: ${logLines(workerPod.logs(), /Failed to connect to GCS/)[0]?.replace(/^.*?(Failed)/, '$1')}`);

    // The head's view: only itself, and the worker never said "Ray runtime started".
    const nodes = await headPod.exec(['python', '-c', NODES_SCRIPT], { timeoutMs: 120_000 });
    const line = nodes.stdout.split('\n').find((l) => l.startsWith('NODES '));
    expect(line, nodes.stderr).toBeDefined();
    const alive = JSON.parse(line!.slice('NODES '.length)) as Record<string, boolean>;
    say(
      `ray-head node list: ${JSON.stringify(alive)}; ray-worker-1 ` +
        `${workerPod.exitCode() === undefined ? 'still running' : `exited ${workerPod.exitCode()}`}, "Ray runtime ` +
        `started" ${workerPod.logs().includes('Ray runtime started') ? 'printed' : 'never printed'}`,
    );
    say(`mitm: ${((Date.now() - started) / 1000).toFixed(1)} s`);

    expect(all.filter((e) => e.event === 'downstreamAccepted')).toEqual([]);
    expect(refused.length).toBeGreaterThanOrEqual(3);
    // The worker aborts the handshake (its gRPC sends no alert: the proxy sees the connection
    // closed after the ClientHello), and says why in its own log.
    expect(refused.every((e) => /ALERT|ECONNRESET|mid-handshake/.test(what(e)))).toBe(true);
    expect(workerSaw.join('\n')).toMatch(/CERTIFICATE_VERIFY_FAILED/);
    expect(upstreams.length).toBeGreaterThan(0);
    expect(upstreams.filter((u) => u.accepted)).toEqual([]);
    expect(upstreams.every((u) => /ALERT|ECONNRESET|closed without an answer/.test(what(u)))).toBe(true);
    expect(headSaw.join('\n')).toMatch(/CERTIFICATE_VERIFY_FAILED/);
    expect(
      Object.entries(alive)
        .filter(([, a]) => a)
        .map(([ip]) => ip),
    ).toEqual([headPod.ip]);
    expect(workerPod.logs()).not.toContain('Ray runtime started');
  }, 600_000);
});
