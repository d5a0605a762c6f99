// What is on the wire between the Ray pods, with and without TLS (docs/design.md §5.1, §5.12).
//
// For each of the shipped overlays, k8s/overlays/dev (no TLS) and k8s/overlays/dev-tls (the
// function's rendered output, committed; its cert-manager Certificates issued by issuer.ts),
// the head, the worker and the Django-Ray client pod run from the manifests' pod templates
// (init containers and `ray start` commands verbatim) with the local pod runner, and tcpdump
// records every TCP frame on the pods' bridge from before the head starts until after the
// client is done. The client sends a task pinned to the worker whose argument and result
// carry a unique marker, and ray.put()s 1 MiB made of the marker that a task on the worker
// fetches. The capture is then read in TypeScript (pcap.ts): every flow reassembled.
//   dev:     the marker is in the captured payloads (argument and result both).
//   dev-tls: the marker is nowhere in the capture, every flow is TLS records from its first
//            byte, and the application data records carry at least the 1 MiB object.
//
// Run: npx vitest run --config test/ray/vitest.config.ts test/ray/wire.e2e.test.ts (root,
// tcpdump; fails when the machine cannot run it, unless RAY_TLS_SKIP_REAL=1).

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BridgeCapture } from './capture.js';
import { issueCertificates, secretDirs } from './issuer.js';
import { countOccurrences, type Flow, readPcap, type TlsWalk, tcpFlows, walkTls } from './pcap.js';
import { type Pod, PodCluster } from './podRunner.js';
import {
  certManagerObjects,
  clientFailure,
  clientPod,
  databaseSecret,
  execClient,
  kustomize,
  NS,
  realRayRuns,
  realRayScratch,
  serviceTargets,
  startNode,
  template,
  tokenSecrets,
} from './realRay.js';

const real = realRayRuns('real-Ray wire test', ['tcpdump']);
const say = (msg: string) => console.log(`[wire] ${msg}`);

const MIB = 1024 * 1024;

// argv: marker, the worker's address (as Ray reports it). A task pinned to the worker gets an
// argument with the marker and returns a result with it; a 1 MiB object of the marker repeated
// is put from the client (it lands on the head node, where the Ray client server runs) and
// read by a task on the worker (the worker's object manager pulls it from the head).
const WIRE_CLIENT = String.raw`
import hashlib, json, socket, sys, time, ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy as Pin
marker, worker = sys.argv[1], sys.argv[2]
ray.init()  # RAY_ADDRESS from the pod's env: ray://ray-head:10001
deadline = time.time() + 60
while True:
    nodes = [n for n in ray.nodes() if n["Alive"]]
    if len(nodes) >= 2 or time.time() > deadline: break
    time.sleep(1)
by_addr = {n["NodeManagerAddress"]: n["NodeID"] for n in nodes}
on_worker = Pin(by_addr[worker], soft=False)

@ray.remote(num_cpus=1)
def echo(arg):
    return "ret=" + arg[len("arg="):] + "@" + socket.gethostname()

@ray.remote(num_cpus=1)
def digest(blob):
    return [len(blob), blob.count(marker.encode()), hashlib.sha256(blob).hexdigest(), socket.gethostname()]

result = ray.get(echo.options(scheduling_strategy=on_worker).remote("arg=" + marker), timeout=90)
unit = (marker + "|").encode()
blob = (unit * (${MIB} // len(unit) + 1))[:${MIB}]
ref = ray.put(blob)
got = ray.get(digest.options(scheduling_strategy=on_worker).remote(ref), timeout=120)
put = [len(blob), blob.count(marker.encode()), hashlib.sha256(blob).hexdigest()]
print("RESULT " + json.dumps({"nodes": sorted(by_addr), "result": result, "put": put, "got": got}))
`;

interface WireResult {
  nodes: string[];
  result: string;
  put: [number, number, string];
  got: [number, number, string, string];
}

interface FlowReport {
  flow: Flow;
  label: string;
  hits: number;
  tls: TlsWalk;
}

const mb = (n: number) => `${(n / MIB).toFixed(1)} MB`;

describe.runIf(real)('wire: what crosses the pod network, dev vs dev-tls', () => {
  const scratch = realRayScratch('wire', say);
  const captures: BridgeCapture[] = [];
  afterAll(() => {
    for (const c of captures) c.kill();
  });

  /** Runs head + worker + client of an overlay with the bridge captured; returns the analysis. */
  async function deploy(overlay: 'dev' | 'dev-tls', marker: string) {
    const started = Date.now();
    const items = kustomize(overlay);
    const head = template(items, 'ray-head');
    const worker = template(items, 'ray-worker');
    const django = template(items, 'django-ray-worker');
    const dir = join(scratch.work, overlay);
    const db = databaseSecret(join(dir, 'django-ray-database'));
    const issued = certManagerObjects(items).length
      ? secretDirs(issueCertificates(certManagerObjects(items), join(dir, 'secrets')), NS)
      : {};
    // dev-tls is rendered with auth: token (k8s/ray-tls-config.yaml): its Ray containers read
    // the token file RAY_AUTH_TOKEN_PATH from the Secret ray-auth-token, which the user creates (`ray-tls token`).
    const auth = tokenSecrets(items, join(dir, 'auth'));
    expect(Object.keys(auth.secrets)).toEqual(overlay === 'dev-tls' ? ['ray-auth-token'] : []);
    const cluster = scratch.track(
      PodCluster.create({
        workDir: join(dir, 'cluster'),
        namespace: NS,
        services: serviceTargets(items, { 'ray-head': head, 'ray-worker-1': worker, 'django-ray-worker': django }),
        secrets: { ...issued, ...auth.secrets, 'django-ray-database': db },
        rayVenv: scratch.venv,
      }),
    );
    const pcapFile = join(dir, `${overlay}.pcap`);
    const capture = BridgeCapture.onCluster(cluster, pcapFile);
    captures.push(capture);
    try {
      // From before the first pod: every connection is captured from its SYN.
      await capture.start();
      say(`${overlay}: tcpdump (pid ${capture.pid}) on br0 in netns ${capture.netns}, writing ${pcapFile}`);
      const headPod = await startNode(cluster, 'ray-head', head);
      const workerPod = await startNode(cluster, 'ray-worker-1', worker);
      const client = await cluster.startPod(clientPod('django-ray-worker', django));
      const r = await execClient(
        client,
        headPod,
        ['python', '-c', WIRE_CLIENT, marker, workerPod.ip],
        say,
        `${overlay} client`,
      );
      const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
      expect(line, clientFailure(`${overlay}: the client`, r)).toBeDefined();
      const result = JSON.parse(line!.slice('RESULT '.length)) as WireResult;
      await new Promise((res) => setTimeout(res, 1000)); // let the last frames (replies, FINs) pass
      const stats = await capture.stop();
      say(
        `${overlay}: client ran on ${result.nodes.join(', ')}: result ${JSON.stringify(result.result)}; 1 MiB put ` +
          `${JSON.stringify(result.put.slice(0, 2))}, read on ${result.got[3]} ` +
          `${JSON.stringify(result.got.slice(0, 2))}`,
      );
      say(
        `${overlay}: tcpdump: ${stats.captured} packets captured, ${stats.dropped} dropped by kernel, ` +
          `${mb(stats.bytes)} pcap (${((Date.now() - started) / 1000).toFixed(1)} s)`,
      );
      expect(r.code).toBe(0);
      expect(result.nodes).toEqual([headPod.ip, workerPod.ip].sort());
      expect(result.result).toBe(`ret=${marker}@ray-worker-1`);
      expect(result.got).toEqual([...result.put, 'ray-worker-1']);
      expect(result.put[0]).toBe(MIB);
      expect(stats.dropped).toBe(0);
      return {
        ...analyse(pcapFile, marker, {
          [headPod.ip]: 'ray-head',
          [workerPod.ip]: 'ray-worker-1',
          [client.ip]: 'django-ray-worker',
        }),
        pods: [headPod, workerPod, client] as Pod[],
        tokens: Object.values(auth.tokens),
      };
    } finally {
      capture.kill();
    }
  }

  function analyse(pcapFile: string, marker: string, names: Record<string, string>) {
    const raw = readFileSync(pcapFile);
    const pcap = readPcap(raw);
    const port = (p: number) => ({ 6379: 'gcs 6379', 10001: 'client 10001' })[p] ?? String(p);
    const reports: FlowReport[] = tcpFlows(pcap)
      .filter((f) => f.bytes.length > 0)
      .map((flow) => ({
        flow,
        label:
          `${names[flow.src] ?? flow.src}:${port(flow.srcPort)} > ` +
          `${names[flow.dst] ?? flow.dst}:${port(flow.dstPort)}`,
        hits: countOccurrences(flow.bytes, marker),
        tls: walkTls(flow.bytes),
      }));
    const sum = (f: (r: FlowReport) => number) => reports.reduce((a, r) => a + f(r), 0);
    return {
      pcap,
      reports,
      rawHits: countOccurrences(raw, marker),
      hits: sum((r) => r.hits),
      bytes: sum((r) => r.flow.bytes.length),
      gaps: sum((r) => r.flow.gaps),
      records: sum((r) => r.tls.records),
      handshake: sum((r) => r.tls.handshake0303),
      appData: sum((r) => r.tls.applicationData0303),
      appBytes: sum((r) => r.tls.applicationDataBytes),
      count: (text: string, f: (r: FlowReport) => boolean) =>
        reports.filter(f).reduce((a, r) => a + countOccurrences(r.flow.bytes, text), 0),
    };
  }

  it('wire: dev (no TLS): the marker of the task argument, its result and the 1 MiB object is readable on the pod ' +
    'network', async (ctx) => {
    scratch.keep(ctx);
    const marker = `RAYTLS-MARKER-${randomBytes(12).toString('hex')}`;
    const a = await deploy('dev', marker);
    const [head, worker, client] = a.pods as [Pod, Pod, Pod];
    const toHead = (r: FlowReport) => r.flow.src === client.ip && r.flow.dst === head.ip && r.flow.dstPort === 10001;
    const fromHead = (r: FlowReport) => r.flow.src === head.ip && r.flow.dst === client.ip && r.flow.srcPort === 10001;
    const nodeToNode = (r: FlowReport) =>
      [head.ip, worker.ip].includes(r.flow.src) && [head.ip, worker.ip].includes(r.flow.dst);
    const argHits = a.count(`arg=${marker}`, () => true);
    const retHits = a.count(`ret=${marker}`, () => true);
    say(
      `dev: marker hits ${a.hits} in ${a.bytes} bytes of ${a.reports.length} flows (raw pcap ${a.rawHits}; ` +
        `"arg=<marker>" ${argHits}, "ret=<marker>" ${retHits}; client>head:10001 ${a.count(marker, toHead)}, ` +
        `head:10001>client ${a.count(`ret=${marker}`, fromHead)} results, between the nodes ` +
        `${a.count(marker, nodeToNode)})`,
    );
    for (const r of a.reports.filter((x) => x.hits > 0))
      say(
        `dev:   ${r.label}: ${r.hits} hits in ` +
          `${r.flow.bytes.length} bytes, starts ${JSON.stringify(r.flow.bytes.subarray(0, 12).toString('latin1'))}`,
      );
    expect(a.gaps).toBe(0);
    expect(a.hits).toBeGreaterThanOrEqual(2);
    expect(argHits).toBeGreaterThanOrEqual(1); // the argument, client -> head -> worker
    expect(retHits).toBeGreaterThanOrEqual(1); // the result, worker -> head -> client
    expect(a.count(marker, toHead)).toBeGreaterThan(0);
    expect(a.count(`ret=${marker}`, fromHead)).toBeGreaterThan(0);
    expect(a.count(marker, nodeToNode)).toBeGreaterThan(0);
    // Nothing here is TLS: no flow walks as TLS records.
    expect(a.reports.filter((r) => r.tls.complete && r.tls.records > 0 && r.flow.bytes.length > 5)).toEqual([]);
  }, 600_000);

  it('wire: dev-tls: the marker is nowhere in the capture; every flow is TLS records carrying the 1 MiB as ' +
    'application data', async (ctx) => {
    scratch.keep(ctx);
    const marker = `RAYTLS-MARKER-${randomBytes(12).toString('hex')}`;
    const a = await deploy('dev-tls', marker);
    const [head, , client] = a.pods as [Pod, Pod, Pod];
    const rayPorts = a.reports.filter(
      (r) => [6379, 10001].includes(r.flow.dstPort) || [6379, 10001].includes(r.flow.srcPort),
    );
    const notTls = a.reports.filter((r) => !r.flow.fromStart || !r.tls.complete || r.tls.records === 0);
    const putFlow = a.reports.filter(
      (r) => r.flow.src === client.ip && r.flow.dst === head.ip && r.flow.dstPort === 10001,
    );
    const putBytes = putFlow.reduce((s, r) => s + r.tls.applicationDataBytes, 0);
    const [token] = a.tokens;
    const tokenHits =
      token === undefined ? -1 : countOccurrences(readFileSync(join(scratch.work, 'dev-tls', 'dev-tls.pcap')), token);
    say(`dev-tls: Ray auth token (Secret ray-auth-token) hits in the raw pcap: ${tokenHits}`);
    say(
      `dev-tls: marker hits ${a.hits} (raw pcap ${a.rawHits}), TLS records ${a.records} (handshake ${a.handshake}, ` +
        `application data ${a.appData} = ${mb(a.appBytes)}) in ${a.reports.length} flows, ${a.bytes} bytes; flows ` +
        `not TLS from their first byte: ${notTls.length}`,
    );
    say(
      `dev-tls: flows to Ray's GCS/client ports: ${rayPorts.length}, ` +
        `${rayPorts.reduce((s, r) => s + r.tls.records, 0)} TLS records; client > head:10001 application data ` +
        `${mb(putBytes)}`,
    );
    for (const r of notTls)
      say(
        `dev-tls:   NOT TLS: ${r.label}: ${r.flow.bytes.length} bytes from ` +
          `${r.flow.fromStart ? 'SYN' : 'mid-stream'}, stops at ${r.tls.badOffset}: ${r.tls.badBytes}`,
      );
    expect(a.gaps).toBe(0);
    expect(a.hits).toBe(0);
    expect(a.rawHits).toBe(0);
    expect(tokenHits).toBe(0); // every Ray call carries the token, inside TLS only
    expect(notTls.map((r) => r.label)).toEqual([]);
    expect(rayPorts.length).toBeGreaterThan(0);
    // Each direction opens with a handshake record.
    expect(rayPorts.filter((r) => !(r.tls.byType[22]! > 0)).map((r) => r.label)).toEqual([]);
    expect(a.appBytes).toBeGreaterThanOrEqual(MIB);
    expect(putBytes).toBeGreaterThanOrEqual(MIB); // the ray.put went out encrypted
  }, 600_000);
});
