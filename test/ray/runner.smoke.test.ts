// Proves the local pod runner and issuer with hand-written specs modelled on a Django-Ray
// setup: cert-manager style CA chain, a Ray head and worker pod each with a leaf naming its
// pod IP, a Django-worker pod that connects with a client certificate over ray://.
// Run: npx vitest run --config test/ray/vitest.config.ts
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IContainer } from 'kubernetes-models/v1';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_SCRIPT, MB50 } from './clientScript.js';
import { certificateText, issueCertificates, secretDirs, verifySecret } from './issuer.js';
import { expandVars, PodCluster, type PodManifest, PodStartError, securityArgs } from './podRunner.js';
import { execClient, REPO, realRayRuns } from './realRay.js';

// Fails the file when this machine cannot run pods, unless RAY_TLS_SKIP_REAL=1 (then a loud skip).
const real = realRayRuns('real-Ray runner tests');

function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** The machine's own network state, which the runner must leave exactly as it found it. */
function machineNetwork(): string {
  return [
    ['route', 'show', 'table', 'all'],
    ['-br', 'link'],
    ['-br', 'addr'],
  ]
    .map((args) => spawnSync('ip', args, { encoding: 'utf8' }).stdout)
    .join('\n');
}

describe('expandVars follows the kubelet', () => {
  const vars: Record<string, string> = { A: 'a', EMPTY: '' };
  const x = (s: string) => expandVars(s, (n) => vars[n]);
  it.each([
    ['$(A)', 'a'],
    ['x$(A)y$(A)', 'xaya'],
    ['$$(A)', '$(A)'],
    ['$$$(A)', '$a'],
    ['$(MISSING)', '$(MISSING)'],
    ['$(EMPTY)-', '-'],
    ['$A $', '$A $'],
    ['$(A', '$(A'],
    ['$(A)$', 'a$'],
    ['$$', '$'],
  ])('%s -> %s', (input, out) => expect(x(input)).toBe(out));
});

describe('issuer (cert-manager stand-in)', () => {
  let dir = '';
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  const objects = [
    { kind: 'Issuer', metadata: { name: 'selfsigned' }, spec: { selfSigned: {} } },
    {
      kind: 'Certificate',
      metadata: { name: 'root' },
      spec: {
        secretName: 'root',
        isCA: true,
        commonName: 'root',
        privateKey: { algorithm: 'ECDSA', size: 384 },
        issuerRef: { name: 'selfsigned' },
      },
    },
    { kind: 'Issuer', metadata: { name: 'root' }, spec: { ca: { secretName: 'root' } } },
    {
      kind: 'Certificate',
      metadata: { name: 'inter' },
      spec: { secretName: 'inter', isCA: true, commonName: 'inter', issuerRef: { name: 'root' } },
    },
    { kind: 'Issuer', metadata: { name: 'inter' }, spec: { ca: { secretName: 'inter' } } },
    // Listed before its issuer's CA on purpose: issuing must follow dependencies.
    {
      kind: 'Certificate',
      metadata: { name: 'leaf' },
      spec: {
        secretName: 'leaf',
        dnsNames: ['svc.test'],
        ipAddresses: ['10.1.2.3'],
        usages: ['server auth', 'digital signature'],
        duration: '1h30m',
        privateKey: { algorithm: 'RSA', size: 3072 },
        issuerRef: { name: 'inter' },
      },
    },
    {
      kind: 'Certificate',
      metadata: { name: 'old' },
      spec: { secretName: 'old', usages: ['client auth'], issuerRef: { name: 'root' } },
    },
  ];
  let s: Record<string, string> = {};
  beforeAll(() => {
    dir = tempDir('ray-issuer-');
    s = secretDirs(issueCertificates([objects[5], ...objects], dir, { expired: ['old'] }));
  });

  it('writes cert-manager shaped Secrets with the right chain', () => {
    const pems = (f: string) => readFileSync(f, 'utf8').match(/BEGIN CERTIFICATE/g)?.length;
    expect(readFileSync(join(s.root!, 'ca.crt'), 'utf8')).toBe(readFileSync(join(s.root!, 'tls.crt'), 'utf8'));
    expect(readFileSync(join(s.leaf!, 'ca.crt'), 'utf8')).toBe(readFileSync(join(s.root!, 'ca.crt'), 'utf8'));
    expect(pems(join(s.leaf!, 'tls.crt'))).toBe(2); // leaf + intermediate, root omitted
    expect(readFileSync(join(s.leaf!, 'tls.key'), 'utf8')).toMatch(/^-----BEGIN RSA PRIVATE KEY-----/);
    expect(readFileSync(join(s.root!, 'tls.key'), 'utf8')).toMatch(/^-----BEGIN EC PRIVATE KEY-----/);
    expect(verifySecret(s.leaf!, 'sslserver').ok).toBe(true);
    expect(verifySecret(s.leaf!, 'sslclient').ok).toBe(false); // server auth only
  });

  it('honours SANs, usages, key size, isCA and duration', () => {
    const leaf = certificateText(join(s.leaf!, 'tls.crt'));
    expect(leaf).toMatch(/DNS:svc\.test, IP Address:10\.1\.2\.3/);
    expect(leaf).toMatch(/Subject Alternative Name: critical/); // empty subject
    expect(leaf).toMatch(/Key Usage: critical\s+Digital Signature\n/);
    expect(leaf).toMatch(/Extended Key Usage:\s+TLS Web Server Authentication\n/);
    expect(leaf).toMatch(/Public-Key: \(3072 bit\)/);
    expect(leaf).toMatch(/CA:FALSE/);
    const [, from, to] = /Not Before: (.+)\n\s+Not After : (.+)/.exec(leaf) ?? [];
    expect(Date.parse(to!) - Date.parse(from!)).toBe(90 * 60_000);
    const inter = certificateText(join(s.inter!, 'tls.crt'));
    expect(inter).toMatch(/CA:TRUE/);
    expect(inter).toMatch(/Digital Signature, Key Encipherment, Certificate Sign/);
    expect(certificateText(join(s.root!, 'tls.crt'))).toMatch(/ecdsa-with-SHA384[\s\S]*NIST CURVE: P-384/);
  });

  it('can issue an already expired certificate', () => {
    const r = verifySecret(s.old!);
    expect(r.ok).toBe(false);
    expect(r.output).toMatch(/certificate has expired/);
  });
});

describe.runIf(real)('local pods', () => {
  it('runs init containers, volumes, env, users and networking like the kubelet, and cleans up', async () => {
    const before = machineNetwork();
    const work = tempDir('ray-pods-');
    const secretDir = join(work, 'secret-demo');
    mkdirSync(secretDir);
    writeFileSync(join(secretDir, 'a'), 'alpha');
    writeFileSync(join(secretDir, 'b'), 'beta');
    const cluster = PodCluster.create({
      workDir: join(work, 'cluster'),
      services: { 'peer-svc': 'peer' },
      secrets: { demo: secretDir },
      podDnsRecords: true,
    });
    let netnsName = '';
    try {
      const peer = await cluster.startPod({
        metadata: { name: 'peer' },
        spec: { containers: [{ name: 'http', command: ['python', '-u', '-m', 'http.server', '8080'] }] },
      });
      await peer.waitForLog('Serving HTTP');
      const sh = (name: string, script: string, extra: Partial<IContainer> = {}): IContainer => ({
        name,
        command: ['sh', '-c'],
        args: [script],
        ...extra,
      });
      const box = await cluster.startPod({
        metadata: { name: 'box', labels: { app: 'box' } },
        spec: {
          securityContext: { fsGroup: 2000 },
          volumes: [
            { name: 'scratch', emptyDir: {} },
            {
              name: 'demo',
              secret: { secretName: 'demo', defaultMode: 0o400, items: [{ key: 'a', path: 'sub/a.txt' }] },
            },
          ],
          initContainers: [
            sh('init', 'echo "$(POD_IP) $$HOME $(APP)" > /scratch/init.txt && echo init-done', {
              env: [
                { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
                { name: 'APP', valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
              ],
              volumeMounts: [{ name: 'scratch', mountPath: '/scratch' }],
            }),
          ],
          containers: [
            sh('main', 'echo main-up; exec sleep 3600', {
              env: [
                { name: 'X', value: 'x' },
                { name: 'Y', value: '$(X)-$(NOPE)' },
              ],
              volumeMounts: [
                { name: 'scratch', mountPath: '/scratch' },
                { name: 'demo', mountPath: '/etc/demo', readOnly: true },
              ],
            }),
            sh('user', 'exec sleep 3600', {
              securityContext: { runAsUser: 1000 },
              volumeMounts: [{ name: 'demo', mountPath: '/etc/demo' }],
            }),
          ],
        },
      });
      netnsName = box.netns;
      expect(box.ip).toBe(cluster.ipOf('box'));
      expect(peer.ip).toBe(cluster.subnet.replace('.0/24', '.2')); // Service targets are reserved first
      await box.waitForLog('main-up');
      const run = async (script: string, container = 'main') => {
        const r = await box.exec(['sh', '-c', script], { container });
        return { ...r, out: r.stdout.trim() };
      };
      expect((await run('cat /scratch/init.txt')).out).toBe(`${box.ip} /root box`);
      expect((await run('echo "$Y|$HOSTNAME|$(hostname)"')).out).toBe('x-$(NOPE)|box|box');
      expect((await run('stat -c %a:%g /etc/demo/sub/a.txt; cat /etc/demo/sub/a.txt; echo; ls /etc/demo')).out).toBe(
        '440:2000\nalpha\nsub',
      );
      const write = await run('echo no > /etc/demo/new');
      expect(write.code).not.toBe(0);
      expect(write.stderr).toMatch(/Read-only file system/);
      expect((await run('id -u; id -G; cat /etc/demo/sub/a.txt', 'user')).out).toBe('1000\n0 2000\nalpha');
      expect((await run('touch /tmp/ray/mine && echo ok')).out).toBe('ok');
      expect(existsSync(join(box.dir, 'tmp-ray', 'mine'))).toBe(true);
      expect((await run('ip -4 -o addr show eth0; ip route')).out).toMatch(
        new RegExp(`inet ${box.ip.replace(/\./g, '\\.')}/24[\\s\\S]*default dev eth0`),
      );
      // Private PID namespace: the container's command is pid 1 and only a handful of processes exist.
      const [pid1, count] = (await run('cat /proc/1/comm; ls -d /proc/[0-9]* | wc -l')).out.split('\n');
      expect(pid1).toBe('sleep');
      expect(Number(count)).toBeLessThan(8);
      const fetch = await box.exec([
        'python',
        '-c',
        'import urllib.request as u; ' +
          'print(u.urlopen("http://peer-svc.default.svc.cluster.local:8080/", timeout=10).status)',
      ]);
      expect(fetch.stdout.trim(), fetch.stderr).toBe('200');
      const podName = `${peer.ip.replace(/\./g, '-')}.default.pod.cluster.local`;
      expect((await run(`getent hosts ${podName}`)).out.split(/\s+/)).toEqual([peer.ip, podName]);

      const bad = cluster.startPod({
        metadata: { name: 'bad' },
        spec: { initContainers: [sh('fails', 'echo boom; exit 3')], containers: [sh('never', 'echo should-not-run')] },
      });
      await expect(bad).rejects.toBeInstanceOf(PodStartError);
      await expect(bad).rejects.toThrow(/init container fails exited 3[\s\S]*boom/);
    } finally {
      await cluster.stop();
    }
    expect(spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout).not.toContain(cluster.id);
    expect(existsSync(join('/etc/netns', netnsName))).toBe(false);
    expect(machineNetwork()).toBe(before);
    rmSync(work, { recursive: true, force: true });
  });
});

describe('securityContext as setpriv options', () => {
  it('user, groups, capabilities and no_new_privs', () => {
    expect(securityArgs(undefined, undefined, {})).toEqual([]);
    expect(
      securityArgs(
        { fsGroup: 100 },
        { capabilities: { drop: ['ALL'] }, allowPrivilegeEscalation: false },
        { uid: 1000, gid: 100 },
      ),
    ).toEqual([
      '--reuid=1000',
      '--regid=100',
      '--groups=100',
      '--bounding-set=-all',
      '--inh-caps=-all',
      '--no-new-privs',
    ]);
    expect(securityArgs(undefined, { capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] } }, {})).toEqual([
      '--bounding-set=-all,+net_bind_service',
      '--inh-caps=-all',
    ]);
    expect(securityArgs(undefined, { capabilities: { drop: ['CAP_SYS_ADMIN', 'NET_RAW'] } }, {})).toEqual([
      '--bounding-set=-sys_admin,-net_raw',
      '--inh-caps=-all',
    ]);
    expect(securityArgs(undefined, { allowPrivilegeEscalation: true }, {})).toEqual([]);
  });
});

describe.runIf(real)('local pods: container securityContext', () => {
  it(
    'readOnlyRootFilesystem: / is read-only, the emptyDir is writable; drop ALL: CapEff 0; allowPrivilegeEscalation ' +
      'false: NoNewPrivs 1',
    async () => {
      const work = tempDir('ray-pods-sc-');
      const hostFile = (name: string) => join(work, name); // on the machine's root filesystem
      const cluster = PodCluster.create({ workDir: join(work, 'cluster') });
      try {
        const sh = (name: string, script: string, extra: Partial<IContainer> = {}): IContainer => ({
          name,
          command: ['sh', '-c'],
          args: [script],
          ...extra,
        });
        const tryWrite = (label: string, path: string) =>
          `if (echo x > ${path}) 2>/dev/null; then echo ` + `${label}-writable; else echo ${label}-readonly; fi`;
        // The same paths for both, except / itself, which only the read-only container tries.
        const probes = [
          tryWrite('host', hostFile('$0.txt')),
          tryWrite('scratch', '/scratch/$0.txt'),
          tryWrite('tmpray', '/tmp/ray/$0.txt'),
        ].join('; ');
        const status = "grep -E '^(CapEff|CapBnd|NoNewPrivs):' /proc/self/status | tr -s '\\t' ' '";
        const pod = await cluster.startPod({
          metadata: { name: 'locked' },
          spec: {
            volumes: [{ name: 'scratch', emptyDir: {} }],
            containers: [
              // Root in all three, so that only the securityContext stops a write.
              sh('ro', `${tryWrite('root', '/ray-tls-ro-probe')}; ${probes}; echo up; exec sleep 3600`, {
                securityContext: { readOnlyRootFilesystem: true },
                volumeMounts: [{ name: 'scratch', mountPath: '/scratch' }],
              }),
              sh('nocaps', `${status}; echo up; exec sleep 3600`, {
                securityContext: { capabilities: { drop: ['ALL'] }, allowPrivilegeEscalation: false },
              }),
              sh('plain', `${probes}; ${status}; echo up; exec sleep 3600`, {
                volumeMounts: [{ name: 'scratch', mountPath: '/scratch' }],
              }),
            ],
          },
        });
        for (const c of ['ro', 'nocaps', 'plain']) await pod.waitForLog('up', { container: c });
        const logs = (c: string) => pod.logs(c).trim().split('\n');
        console.log(
          `[ray smoke] securityContext: ` +
            `${['ro', 'nocaps', 'plain'].map((c) => `${c}: ${logs(c).join(' | ')}`).join(' || ')}`,
        );
        // `sh -c SCRIPT` has $0 = the first arg: unset here, so $0 is "sh"; the files are sh.txt.
        expect(logs('ro')).toEqual(['root-readonly', 'host-readonly', 'scratch-writable', 'tmpray-readonly', 'up']);
        expect(existsSync('/ray-tls-ro-probe')).toBe(false);
        expect(readFileSync(join(pod.volumeDir('scratch'), 'sh.txt'), 'utf8')).toBe('x\n');
        expect(logs('plain').slice(0, 3)).toEqual(['host-writable', 'scratch-writable', 'tmpray-writable']);
        expect(logs('nocaps')).toEqual(['CapEff: 0000000000000000', 'CapBnd: 0000000000000000', 'NoNewPrivs: 1', 'up']);
        expect(logs('plain')).toContain('NoNewPrivs: 0');
        expect(logs('plain').find((l) => l.startsWith('CapEff:'))).not.toBe('CapEff: 0000000000000000');
        // `exec` (kubectl exec) gets the same restrictions.
        const roExec = await pod.exec(['sh', '-c', 'touch /ray-tls-ro-probe'], { container: 'ro' });
        expect(roExec.stderr).toMatch(/Read-only file system/);
        expect(
          (await pod.exec(['sh', '-c', 'echo y > /scratch/exec.txt && cat /scratch/exec.txt'], { container: 'ro' }))
            .stdout,
        ).toBe('y\n');
        const capExec = await pod.exec(['grep', '-E', '^(CapEff|NoNewPrivs):', '/proc/self/status'], {
          container: 'nocaps',
        });
        expect(capExec.stdout.replace(/\t+/g, ' ').trim().split('\n')).toEqual([
          'CapEff: 0000000000000000',
          'NoNewPrivs: 1',
        ]);
        // Root without capabilities cannot do what root can (here: chown a file it does not own).
        const chown = await pod.exec(['sh', '-c', `touch /tmp/ray/f && chown 1234 /tmp/ray/f && echo chowned`], {
          container: 'nocaps',
        });
        expect(chown.stdout).not.toContain('chowned');
        expect(chown.stderr).toMatch(/Operation not permitted/);
      } finally {
        await cluster.stop();
      }
      rmSync(work, { recursive: true, force: true });
    },
  );
});

describe.runIf(real)('2-node Ray TLS cluster from pod specs', () => {
  let work = '';
  let passed = false;
  beforeAll(() => {
    // Idempotent: a no-op when the venv already has ray 2.58.0.
    execFileSync(join(REPO, 'scripts/ensure-ray.sh'), { stdio: ['ignore', 'pipe', 'pipe'], timeout: 900_000 });
    work = tempDir('ray-smoke-');
  });
  afterAll(() => {
    // Keep pod dirs (Ray's logs are in pods/<pod>/tmp-ray) when the test failed.
    if (passed) rmSync(work, { recursive: true, force: true });
    else if (work) console.warn(`[ray smoke] kept ${work} for inspection`);
  });

  it(
    'head + worker over TLS, client with a client-auth cert runs tasks on both and moves 50 MB; plaintext ' +
      'client fails',
    async () => {
      const started = Date.now();
      const cluster = PodCluster.create({ workDir: join(work, 'cluster'), services: { 'ray-head': 'ray-head' } });
      try {
        const ns = cluster.namespace;
        const nodeCert = (pod: string) => ({
          apiVersion: 'cert-manager.io/v1',
          kind: 'Certificate',
          metadata: { name: `${pod}-tls`, namespace: ns },
          spec: {
            secretName: `${pod}-tls`,
            duration: '8760h',
            privateKey: { algorithm: 'ECDSA', size: 256 },
            dnsNames: [
              'ray-head',
              `ray-head.${ns}`,
              `ray-head.${ns}.svc`,
              `ray-head.${ns}.svc.cluster.local`,
              'localhost',
            ],
            ipAddresses: [cluster.ipOf(pod), '127.0.0.1'],
            usages: ['server auth', 'client auth', 'digital signature', 'key encipherment'],
            issuerRef: { name: 'ray-ca-issuer', kind: 'Issuer' },
          },
        });
        const objects = [
          { kind: 'Issuer', metadata: { name: 'selfsigned', namespace: ns }, spec: { selfSigned: {} } },
          {
            kind: 'Certificate',
            metadata: { name: 'ray-ca', namespace: ns },
            spec: {
              secretName: 'ray-ca',
              isCA: true,
              commonName: 'ray-ca',
              privateKey: { algorithm: 'ECDSA', size: 256 },
              issuerRef: { name: 'selfsigned' },
            },
          },
          {
            kind: 'Issuer',
            metadata: { name: 'ray-ca-issuer', namespace: ns },
            spec: { ca: { secretName: 'ray-ca' } },
          },
          nodeCert('ray-head'),
          nodeCert('ray-worker'),
          {
            kind: 'Certificate',
            metadata: { name: 'django-ray-client', namespace: ns },
            spec: {
              secretName: 'django-ray-client-tls',
              commonName: 'django-worker',
              usages: ['client auth', 'digital signature', 'key encipherment'],
              issuerRef: { name: 'ray-ca-issuer' },
            },
          },
        ];
        for (const [name, dir] of Object.entries(secretDirs(issueCertificates(objects, join(work, 'secrets')))))
          cluster.addSecret(name, dir);

        const tlsEnv = [
          { name: 'RAY_USE_TLS', value: '1' },
          { name: 'RAY_TLS_SERVER_CERT', value: '/etc/ray/tls/tls.crt' },
          { name: 'RAY_TLS_SERVER_KEY', value: '/etc/ray/tls/tls.key' },
          { name: 'RAY_TLS_CA_CERT', value: '/etc/ray/tls/ca.crt' },
        ];
        const pod = (name: string, secret: string, command: string[]): PodManifest => ({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name, namespace: ns, labels: { app: name } },
          spec: {
            volumes: [{ name: 'ray-tls', secret: { secretName: secret, defaultMode: 0o400 } }],
            containers: [
              {
                name: 'main',
                image: 'rayproject/ray:2.58.0',
                command,
                env: tlsEnv,
                volumeMounts: [{ name: 'ray-tls', mountPath: '/etc/ray/tls', readOnly: true }],
              },
            ],
          },
        });
        const small = ['--num-cpus=1', '--object-store-memory=200000000', '--disable-usage-stats'];
        const head = await cluster.startPod(
          pod('ray-head', 'ray-head-tls', [
            'ray',
            'start',
            '--head',
            '--port=6379',
            '--ray-client-server-port=10001',
            '--include-dashboard=false',
            ...small,
            '--block',
          ]),
        );
        await head.waitForLog('Ray runtime started', { timeoutMs: 120_000 });
        const worker = await cluster.startPod(
          pod('ray-worker', 'ray-worker-tls', ['ray', 'start', '--address=ray-head:6379', ...small, '--block']),
        );
        await worker.waitForLog('Ray runtime started', { timeoutMs: 120_000 });
        const client = await cluster.startPod(pod('django-worker', 'django-ray-client-tls', ['sleep', 'infinity']));
        console.log(`[ray smoke] cluster up after ${((Date.now() - started) / 1000).toFixed(1)} s`);
        for (const p of [head, worker]) {
          const lines = p
            .logs()
            .split('\n')
            .filter((l) => /Local node IP|Ray runtime started|Connecting to existing|ray start --address/.test(l));
          console.log(`[ray smoke] ${p.name} (${p.ip}):\n  ${lines.join('\n  ')}`);
        }
        expect(head.logs()).toContain(`Local node IP: ${head.ip}`);
        expect(worker.logs()).toContain(`Local node IP: ${worker.ip}`);

        // RAY_ADDRESS as the Django-Ray worker has it; the script takes the nodes the 50 MB moves
        // between. execClient retries only Ray's own client fork crash (ray#63202, realRay.ts).
        const ok = await execClient(
          client,
          head,
          ['python', '-c', CLIENT_SCRIPT, head.ip, worker.ip],
          (m) => console.log(`[ray smoke] ${m}`),
          'TLS client',
          { RAY_ADDRESS: 'ray://ray-head:10001' },
        );
        const resultLine = ok.stdout.split('\n').find((l) => l.startsWith('RESULT '));
        expect(resultLine, `stdout:\n${ok.stdout}\nstderr:\n${ok.stderr}`).toBeDefined();
        console.log(`[ray smoke] TLS client: ${resultLine}`);
        const result = JSON.parse(resultLine!.slice('RESULT '.length)) as {
          nodes: string[];
          ran: Record<string, [string, string]>;
          moved: [number, string];
        };
        expect(result.nodes).toEqual([head.ip, worker.ip].sort());
        expect(result.ran[head.ip]).toEqual(['ray-head', head.ip]);
        expect(result.ran[worker.ip]).toEqual(['ray-worker', worker.ip]);
        expect(result.moved).toEqual([MB50, 'ray-worker']);
        expect(ok.code).toBe(0);

        // Negative: the same Django worker without TLS cannot talk to the TLS head.
        const t0 = Date.now();
        const plain = await client.exec(
          ['python', '-c', 'import ray; ray.init("ray://ray-head:10001"); ' + 'print("CONNECTED")'],
          { env: { RAY_USE_TLS: '0' }, timeoutMs: 180_000 },
        );
        const err = plain.stderr
          .split('\n')
          .filter((l) => /Error/.test(l))
          .pop();
        console.log(
          `[ray smoke] plaintext client (RAY_USE_TLS=0): exit ${plain.code} after ` +
            `${((Date.now() - t0) / 1000).toFixed(1)} s: ${err}`,
        );
        expect(plain.stdout).not.toContain('CONNECTED');
        expect(plain.code).not.toBe(0);
        expect(plain.stderr).toMatch(/ConnectionError: ray client connection timeout/);
        console.log(`[ray smoke] total ${((Date.now() - started) / 1000).toFixed(1)} s`);
        passed = true;
      } finally {
        await cluster.stop();
      }
    },
  );
});
