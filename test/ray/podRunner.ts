// Runs Kubernetes Pod specs as local "pods" with real processes (docs/design.md §5.12), so the
// real-Ray tests can run the exact commands, env and volumes the function emits.
//
// Per cluster: a private network namespace "<id>_net" holding a bridge (no address). Per pod:
// a network namespace with eth0 (a veth into that bridge), its own address, a default route
// dev eth0 (so Ray's address detection picks the pod IP), and /etc/netns/<ns>/{hosts,
// resolv.conf,hostname} that `ip netns exec` binds over /etc: the hosts file carries the
// Service names, resolv.conf `nameserver 127.0.0.1` makes DNS fail fast so gRPC falls back
// to the hosts file (docs/design.md §5.12). The bridge lives in its own namespace, not the machine's,
// so the machine's own network namespace never gains a link, address or route.
//
// Per container: `ip netns exec <ns> unshare --mount --uts --pid --fork --kill-child` runs
// a small sh script that bind-mounts the volumes at their mountPaths (remounted read-only
// for readOnly mounts), a per-pod dir at /tmp/ray and a private tmpfs at /dev/shm, then
// `exec`s the container's command+args with exactly the spec's env (plus PATH with the Ray
// venv first, HOSTNAME, HOME: the image is not used). The container's securityContext is
// applied the way a container runtime would: runAsUser/runAsGroup/fsGroup/supplementalGroups
// (setpriv --reuid/--regid/--groups), capabilities.drop/add (setpriv --bounding-set and
// --inh-caps: with drop [ALL] even a root process has no capabilities after exec),
// allowPrivilegeEscalation: false (setpriv --no-new-privs, the no_new_privs bit), and
// readOnlyRootFilesystem: true (after the volume mounts, every other mount of the container's
// private mount namespace except /proc, /sys and /dev is remounted `remount,bind,ro`: that
// flag is per mount, so the machine's own mounts stay writable; the volumes, mounted before,
// stay writable unless readOnly; the runner's /tmp/ray becomes read-only too, as an image's
// /tmp would, unless a volume covers it). `exec` (like kubectl exec) gets the same treatment.
// The private PID namespace means
// killing the recorded pid takes every descendant with it (Ray daemonizes nothing out of
// it); `ip netns pids` is swept as well before the namespace is deleted.
//
// Usage: const c = PodCluster.create({...}); try { ... } finally { await c.stop(); }
// A process 'exit' handler (and SIGINT/SIGTERM/SIGHUP) also tears down live clusters, and
// create() removes leftovers of runs whose process died (names carry the owner pid).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { constants } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IContainer, IEnvVar, IKeyToPath, IPodSpec, IVolume, IVolumeMount } from 'kubernetes-models/v1';

export interface PodManifest {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    uid?: string;
  };
  spec: IPodSpec;
}

export interface ClusterOptions {
  /** Where per-pod volumes, /tmp/ray dirs and container logs go. Must not be under any mountPath. */
  workDir: string;
  /** Namespace of the pods and Services (default "default"). */
  namespace?: string;
  /**
   * Service name -> the pod it selects. Each gets hosts entries name, name.ns, name.ns.svc, name.ns.svc.cluster.local.
   */
  services?: Readonly<Record<string, string>>;
  /** Secret name -> dir with one file per key (e.g. from issuer.ts). Can be extended per startPod. */
  secrets?: Readonly<Record<string, string>>;
  /** ConfigMap name -> dir with one file per key. */
  configMaps?: Readonly<Record<string, string>>;
  /** Ray venv (default $RAY_VENV or <repo>/.cache/ray-venv); its bin/ goes first on PATH. */
  rayVenv?: string;
  /** A /24 for pod addresses; default: the first of 10.244.7.0/24, ... that overlaps no route. */
  subnet?: string;
  /** Cluster DNS domain for Service (and pod) names (default "cluster.local"). */
  clusterDomain?: string;
  /**
   * Also answer pod A records (`10-244-7-2.<ns>.pod.<domain>`) for the whole subnet, as
   * CoreDNS `pods insecure` does (needed by the pod-dns certificate mode). Default false.
   */
  podDnsRecords?: boolean;
}

export interface ExecOptions {
  /** Container whose namespaces, user and env to use (default: the first container). */
  container?: string;
  /** Extra env overriding the container's. */
  env?: Readonly<Record<string, string>>;
  /** Written to stdin. */
  input?: string;
  timeoutMs?: number;
}

export interface ExecResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** True when opts.timeoutMs elapsed and the command was killed. */
  timedOut: boolean;
}

export class PodStartError extends Error {
  constructor(
    message: string,
    readonly log: string,
  ) {
    super(`${message}\n--- log ---\n${log}`);
  }
}

interface ContainerProcess {
  name: string;
  init: boolean;
  child: ChildProcess;
  pid: number;
  logFile: string;
  env: Record<string, string>;
  /**
   * argv prefix that applies the container's securityContext (setpriv: user, groups, capabilities, no_new_privs), or
   * [].
   */
  userWrap: string[];
  started: boolean;
  exitCode: number | null | undefined; // undefined while running
  exited: Promise<number | null>;
}

const IP = '/usr/sbin/ip';
const UNSHARE = '/usr/bin/unshare';
const NSENTER = '/usr/bin/nsenter';
const SETPRIV = '/usr/bin/setpriv';
const SH = '/bin/sh';
const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const NAME_RE = /^rt([0-9a-z]{5})([0-9a-z]{2})[-_]/;

/** Whether this machine can run pods: root and a working `ip netns`. */
export function podSupport(): { ok: true } | { ok: false; reason: string } {
  if (process.getuid?.() !== 0) return { ok: false, reason: 'real-Ray pod tests need root (ip netns, mount)' };
  for (const bin of [IP, UNSHARE, NSENTER])
    if (!existsSync(bin)) return { ok: false, reason: `${bin} is missing ` + `(apt-get install iproute2 util-linux)` };
  const r = spawnSync(IP, ['netns', 'list'], { encoding: 'utf8' });
  if (r.status !== 0) return { ok: false, reason: `ip netns is unavailable: ${r.stderr || r.error?.message}` };
  return { ok: true };
}

export function defaultRayVenv(): string {
  return process.env.RAY_VENV ?? join(REPO_ROOT, '.cache/ray-venv');
}

/**
 * Kubernetes' $(VAR) expansion (kubelet third_party/forked/golang/expansion): `$(NAME)` is
 * replaced when NAME is defined, else left as written; `$$` becomes `$`; any other `$` and
 * an unclosed `$(` stay literal.
 */
export function expandVars(input: string, lookup: (name: string) => string | undefined): string {
  let out = '';
  let checkpoint = 0;
  for (let cursor = 0; cursor < input.length; cursor++) {
    if (input[cursor] !== '$' || cursor + 1 >= input.length) continue;
    out += input.slice(checkpoint, cursor);
    const rest = input.slice(cursor + 1);
    let advance = 1;
    if (rest[0] === '$') out += '$';
    else if (rest[0] === '(') {
      const close = rest.indexOf(')', 1);
      if (close === -1) out += '$(';
      else {
        const name = rest.slice(1, close);
        out += lookup(name) ?? `$(${name})`;
        advance = close + 1;
      }
    } else out += '$' + rest[0];
    cursor += advance;
    checkpoint = cursor + 1;
  }
  return out + input.slice(checkpoint);
}

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr || r.error?.message}`);
  return r.stdout;
}

function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function killQuietly(pid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(pid, signal);
  } catch {
    /* already gone */
  }
}

function netnsPids(ns: string): number[] {
  const r = spawnSync(IP, ['netns', 'pids', ns], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.split(/\s+/).filter(Boolean).map(Number) : [];
}

/** Kills everything in a pod netns and deletes it with its /etc/netns dir. Synchronous (exit handler). */
function deleteNetns(ns: string): void {
  for (let i = 0; i < 50; i++) {
    const pids = netnsPids(ns);
    if (!pids.length) break;
    for (const pid of pids) killQuietly(pid);
    sleepSync(100);
  }
  spawnSync(IP, ['netns', 'del', ns]);
  rmSync(join('/etc/netns', ns), { recursive: true, force: true });
}

function ourNetns(): string[] {
  return run(IP, ['netns', 'list'])
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => NAME_RE.test(n));
}

/**
 * Removes namespaces left by runs whose process is gone (e.g. a SIGKILLed vitest worker),
 * and the mount points such runs typically leave (/tmp/ray, /etc/netns) when empty.
 */
function sweepStale(): void {
  for (const name of ourNetns()) {
    if (!alive(parseInt(NAME_RE.exec(name)![1]!, 36))) deleteNetns(name);
  }
  removeEmptyMountPoints(['/tmp/ray', '/etc/netns']);
}

/**
 * rmdir/unlink empty mount points, but only while no pod of any run exists: removing a
 * directory that is a mount point inside another run's pod would detach that mount.
 */
function removeEmptyMountPoints(paths: readonly string[]): void {
  try {
    if (ourNetns().length) return;
  } catch {
    return;
  }
  for (const p of paths) {
    try {
      if (statSync(p).isDirectory()) rmdirSync(p);
      else if (statSync(p).size === 0) unlinkSync(p);
    } catch {
      /* not empty or gone: leave it */
    }
  }
}

function parseCidr(cidr: string): { net: number; bits: number } {
  const [addr, bitsText] = cidr.split('/');
  const parts = (addr ?? '').split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !(p >= 0 && p <= 255))) throw new Error(`bad IPv4 prefix ${cidr}`);
  const bits = bitsText === undefined ? 32 : Number(bitsText);
  const ip = ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return { net: (ip & mask) >>> 0, bits };
}

function overlaps(a: string, b: string): boolean {
  const x = parseCidr(a);
  const y = parseCidr(b);
  const bits = Math.min(x.bits, y.bits);
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return (x.net & mask) >>> 0 === (y.net & mask) >>> 0;
}

/** Every IPv4 destination in the machine's routing tables (docs/design.md §5.12: check `ip route` first). */
function hostRoutes(): string[] {
  const out = run(IP, ['-4', 'route', 'show', 'table', 'all']);
  const prefixes: string[] = [];
  for (const line of out.split('\n')) {
    const m = /(?:^|\s)(\d+\.\d+\.\d+\.\d+(?:\/\d+)?)/.exec(line.split(' dev ')[0] ?? '');
    if (m?.[1]) prefixes.push(m[1]);
  }
  return prefixes;
}

function chooseSubnet(requested: string | undefined): string {
  const routes = hostRoutes();
  // 192.0.2.0/24 is this machine's own network (docs/design.md §5.12): never, even if asked.
  const forbidden = ['192.0.2.0/24', ...routes.filter((r) => !r.startsWith('127.'))];
  const candidates = requested
    ? [requested]
    : ['10.244.7.0/24', '10.244.8.0/24', '10.244.9.0/24', '10.245.7.0/24', '172.30.247.0/24'];
  for (const c of candidates) {
    if (parseCidr(c).bits !== 24) throw new Error(`subnet ${c} must be a /24`);
    if (!forbidden.some((r) => overlaps(r, c))) return c;
  }
  throw new Error(`no pod subnet free of the machine's routes (${routes.join(', ')}); tried ${candidates.join(', ')}`);
}

const liveClusters = new Set<PodCluster>();
let handlersInstalled = false;
function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  const cleanupAll = () => {
    for (const c of [...liveClusters]) c.stopSync();
  };
  process.on('exit', cleanupAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      cleanupAll();
      // Re-raise so the default action (or another listener) still ends the process.
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    });
  }
}

let clusterCounter = 0;

export class PodCluster {
  readonly id: string;
  readonly namespace: string;
  readonly subnet: string;
  readonly workDir: string;
  readonly rayVenv: string;
  private readonly netNs: string;
  private readonly ips = new Map<string, string>();
  private readonly services: Readonly<Record<string, string>>;
  private readonly clusterDomain: string;
  private readonly podDnsRecords: boolean;
  /** Secret / ConfigMap name -> dir, as given to create() and startPod(). */
  readonly secrets: Record<string, string>;
  readonly configMaps: Record<string, string>;
  private readonly pods = new Map<string, Pod>();
  private readonly podNetns: string[] = [];
  /** Mount points this cluster created on the machine's filesystem, removed at stop. */
  readonly createdPaths: string[] = [];
  private stopped = false;

  private constructor(opts: ClusterOptions) {
    const support = podSupport();
    if (!support.ok) throw new Error(support.reason);
    const counter = (clusterCounter++ % 1296).toString(36).padStart(2, '0');
    this.id = `rt${process.pid.toString(36).padStart(5, '0')}${counter}`;
    this.namespace = opts.namespace ?? 'default';
    this.workDir = resolve(opts.workDir);
    this.rayVenv = opts.rayVenv ?? defaultRayVenv();
    this.services = opts.services ?? {};
    this.clusterDomain = opts.clusterDomain ?? 'cluster.local';
    this.podDnsRecords = opts.podDnsRecords ?? false;
    this.secrets = { ...opts.secrets };
    this.configMaps = { ...opts.configMaps };
    this.subnet = chooseSubnet(opts.subnet);
    this.netNs = `${this.id}_net`;
    sweepStale();
    installExitHandlers();
    liveClusters.add(this);
    mkdirSync(this.workDir, { recursive: true });
    this.ensureMountPoint('/etc/netns', false); // removed again at stop if we made it and it is empty
    run(IP, ['netns', 'add', this.netNs]);
    run(IP, ['-n', this.netNs, 'link', 'set', 'lo', 'up']);
    run(IP, ['-n', this.netNs, 'link', 'add', 'br0', 'type', 'bridge']);
    run(IP, ['-n', this.netNs, 'link', 'set', 'br0', 'up']);
    for (const pod of Object.values(this.services)) this.ipOf(pod);
  }

  static create(opts: ClusterOptions): PodCluster {
    return new PodCluster(opts);
  }

  /** The pod's IP, reserved on first call (.2, .3, ... in call order; Service targets first). */
  ipOf(podName: string): string {
    let ip = this.ips.get(podName);
    if (!ip) {
      const host = this.ips.size + 2;
      if (host > 254) throw new Error('subnet full');
      ip = this.subnet.replace(/\.0\/24$/, `.${host}`);
      this.ips.set(podName, ip);
    }
    return ip;
  }

  pod(name: string): Pod {
    const p = this.pods.get(name);
    if (!p) throw new Error(`no pod ${name}`);
    return p;
  }

  addSecret(name: string, dir: string): void {
    this.secrets[name] = dir;
  }

  /**
   * Creates the pod's network, prepares its volumes, runs its init containers to completion
   * (rejecting with PodStartError if one fails) and starts its containers; resolves once
   * every container has its mounts in place and has exec'd its command.
   */
  async startPod(
    manifest: PodManifest,
    extra: { secrets?: Record<string, string>; configMaps?: Record<string, string> } = {},
  ): Promise<Pod> {
    if (this.stopped) throw new Error('cluster stopped');
    const name = manifest.metadata.name;
    if (this.pods.has(name)) throw new Error(`pod ${name} already exists`);
    Object.assign(this.secrets, extra.secrets);
    Object.assign(this.configMaps, extra.configMaps);
    const pod = new Pod(this, manifest, this.ipOf(name), `${this.id}-${name}`, join(this.workDir, 'pods', name));
    this.pods.set(name, pod);
    this.podNetns.push(pod.netns);
    this.createNetwork(pod);
    pod.prepareVolumes(this.secrets, this.configMaps);
    await pod.runContainers();
    return pod;
  }

  /**
   * Deletes a pod like `kubectl delete pod`: kills its processes and deletes its network
   * namespace. Its address stays reserved, so startPod with the same name starts it again at the
   * same IP (a restart: fresh volumes, init containers run again). Its directory moves to
   * `<dir>.<n>` so the old logs stay readable; returns that path.
   */
  async deletePod(name: string): Promise<string> {
    const pod = this.pod(name);
    await pod.kill();
    deleteNetns(pod.netns);
    this.pods.delete(name);
    let n = 1;
    while (existsSync(`${pod.dir}.${n}`)) n++;
    renameSync(pod.dir, `${pod.dir}.${n}`);
    return `${pod.dir}.${n}`;
  }

  private createNetwork(pod: Pod): void {
    const ns = pod.netns;
    const veth = `v${this.podNetns.length}`;
    run(IP, ['netns', 'add', ns]);
    run(IP, ['-n', this.netNs, 'link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    run(IP, ['-n', this.netNs, 'link', 'set', veth, 'master', 'br0', 'up']);
    run(IP, ['-n', ns, 'addr', 'add', `${pod.ip}/24`, 'dev', 'eth0']);
    run(IP, ['-n', ns, 'link', 'set', 'eth0', 'up']);
    run(IP, ['-n', ns, 'link', 'set', 'lo', 'up']);
    run(IP, ['-n', ns, 'route', 'add', 'default', 'dev', 'eth0']);
    const etc = join('/etc/netns', ns);
    mkdirSync(etc, { recursive: true });
    const hosts = [
      '# Kubernetes-managed hosts file (ray-tls local pod).',
      '127.0.0.1\tlocalhost',
      '::1\tlocalhost ip6-localhost ip6-loopback',
      `${pod.ip}\t${pod.hostname}`,
      ...Object.entries(this.services).map(([svc, target]) => {
        const n = this.namespace;
        return `${this.ipOf(target)}\t${svc} ${svc}.${n} ${svc}.${n}.svc ${svc}.${n}.svc.${this.clusterDomain}`;
      }),
    ];
    if (this.podDnsRecords) {
      for (let host = 1; host <= 254; host++) {
        const ip = this.subnet.replace(/\.0\/24$/, `.${host}`);
        hosts.push(`${ip}\t${ip.replace(/\./g, '-')}.${this.namespace}.pod.${this.clusterDomain}`);
      }
    }
    writeFileSync(join(etc, 'hosts'), hosts.join('\n') + '\n');
    writeFileSync(join(etc, 'resolv.conf'), 'nameserver 127.0.0.1\n');
    writeFileSync(join(etc, 'hostname'), `${pod.hostname}\n`);
  }

  /** Kills every process of every pod, deletes the namespaces, /etc/netns dirs and created mount points. */
  async stop(): Promise<void> {
    if (!this.stopped) await Promise.all([...this.pods.values()].map((p) => p.kill()));
    this.stopSync();
  }

  /** The same without waiting for the processes to be reaped (for the process 'exit' handler). */
  stopSync(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const pod of this.pods.values()) pod.killAll();
    for (const ns of this.podNetns) deleteNetns(ns);
    spawnSync(IP, ['-n', this.netNs, 'link', 'del', 'br0']);
    spawnSync(IP, ['netns', 'del', this.netNs]);
    liveClusters.delete(this);
    removeEmptyMountPoints([...this.createdPaths].reverse());
  }

  /** Creates a missing mount point (and parents) on the machine's filesystem, remembering what it made. */
  ensureMountPoint(path: string, isFile: boolean): void {
    const missing: string[] = [];
    for (let p = isFile ? dirname(path) : path; !existsSync(p); p = dirname(p)) missing.unshift(p);
    for (const p of missing) {
      mkdirSync(p);
      this.createdPaths.push(p);
    }
    if (isFile && !existsSync(path)) {
      writeFileSync(path, '');
      this.createdPaths.push(path);
    }
  }
}

export class Pod {
  readonly name: string;
  readonly namespace: string;
  readonly hostname: string;
  readonly processes: ContainerProcess[] = [];
  private readonly volumeDirs = new Map<string, string>();
  private readonly readOnlyVolumes = new Set<string>();
  private readonly execChildren = new Set<ChildProcess>();

  constructor(
    private readonly cluster: PodCluster,
    readonly manifest: PodManifest,
    readonly ip: string,
    readonly netns: string,
    readonly dir: string,
  ) {
    this.name = manifest.metadata.name;
    this.namespace = manifest.metadata.namespace ?? cluster.namespace;
    this.hostname = manifest.spec.hostname ?? this.name;
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(join(dir, 'logs'), { recursive: true });
  }

  /** Volume name -> dir on this machine (emptyDir content, projected Secret files...). */
  volumeDir(name: string): string {
    const d = this.volumeDirs.get(name);
    if (!d) throw new Error(`pod ${this.name} has no volume ${name}`);
    return d;
  }

  prepareVolumes(secrets: Record<string, string>, configMaps: Record<string, string>): void {
    const fsGroup = this.manifest.spec.securityContext?.fsGroup;
    for (const vol of this.manifest.spec.volumes ?? []) {
      const dir = join(this.dir, 'volumes', vol.name);
      mkdirSync(dir, { recursive: true });
      this.volumeDirs.set(vol.name, dir);
      if (vol.emptyDir) {
        // medium: Memory would be a tmpfs; a plain dir behaves the same for these tests.
        chmodSync(dir, 0o777);
      } else if (vol.secret || vol.configMap || vol.projected) {
        // Kubernetes mounts secret/configMap/projected volumes read-only whatever the mount says.
        this.readOnlyVolumes.add(vol.name);
        this.projectVolume(vol, dir, secrets, configMaps);
      } else {
        throw new Error(
          `pod ${this.name}: volume ${vol.name}: only emptyDir, secret, configMap and projected are ` + `supported`,
        );
      }
      if (fsGroup !== undefined) applyFsGroup(dir, fsGroup, this.readOnlyVolumes.has(vol.name));
    }
    mkdirSync(join(this.dir, 'tmp-ray'), { recursive: true });
    chmodSync(join(this.dir, 'tmp-ray'), 0o1777);
  }

  private projectVolume(
    vol: IVolume,
    dir: string,
    secrets: Record<string, string>,
    configMaps: Record<string, string>,
  ): void {
    type Source = {
      kind: 'Secret' | 'ConfigMap';
      name: string;
      items?: IKeyToPath[];
      optional?: boolean;
      defaultMode?: number;
    };
    const sources: Source[] = [];
    if (vol.secret)
      sources.push({
        kind: 'Secret',
        name: vol.secret.secretName ?? '',
        items: vol.secret.items,
        optional: vol.secret.optional,
        defaultMode: vol.secret.defaultMode,
      });
    if (vol.configMap)
      sources.push({
        kind: 'ConfigMap',
        name: vol.configMap.name ?? '',
        items: vol.configMap.items,
        optional: vol.configMap.optional,
        defaultMode: vol.configMap.defaultMode,
      });
    for (const s of vol.projected?.sources ?? []) {
      const mode = vol.projected?.defaultMode;
      if (s.secret)
        sources.push({
          kind: 'Secret',
          name: s.secret.name ?? '',
          items: s.secret.items,
          optional: s.secret.optional,
          defaultMode: mode,
        });
      else if (s.configMap)
        sources.push({
          kind: 'ConfigMap',
          name: s.configMap.name ?? '',
          items: s.configMap.items,
          optional: s.configMap.optional,
          defaultMode: mode,
        });
      else
        throw new Error(
          `pod ${this.name}: projected volume ${vol.name}: only secret and configMap sources are ` + `supported`,
        );
    }
    for (const src of sources) {
      const from = (src.kind === 'Secret' ? secrets : configMaps)[src.name];
      if (!from) {
        if (src.optional) continue;
        // The kubelet would leave the pod in ContainerCreating; fail loudly instead.
        throw new Error(
          `pod ${this.name}: volume ${vol.name}: ${src.kind} ${src.name} not found (give it in ` +
            `secrets/configMaps)`,
        );
      }
      const keys = readdirSync(from).filter((k) => !k.startsWith('.') && statSync(join(from, k)).isFile());
      const items: IKeyToPath[] = src.items ?? keys.map((k) => ({ key: k, path: k }));
      for (const item of items) {
        if (!keys.includes(item.key)) {
          if (src.optional) continue;
          throw new Error(`pod ${this.name}: volume ${vol.name}: ${src.kind} ${src.name} has no key ${item.key}`);
        }
        const to = join(dir, item.path);
        mkdirSync(dirname(to), { recursive: true });
        copyFileSync(join(from, item.key), to);
        chmodSync(to, item.mode ?? src.defaultMode ?? 0o644);
      }
    }
  }

  private resolveEnv(c: IContainer): { env: Record<string, string>; specEnv: Map<string, string> } {
    const specEnv = new Map<string, string>();
    const lookup = (n: string) => specEnv.get(n);
    const readDir = (
      kind: string,
      dir: string | undefined,
      name: string,
      optional?: boolean,
    ): Record<string, string> => {
      if (!dir) {
        if (optional) return {};
        throw new Error(`pod ${this.name}: ${kind} ${name} not found`);
      }
      return Object.fromEntries(
        readdirSync(dir)
          .filter((k) => !k.startsWith('.'))
          .map((k) => [k, readFileSync(join(dir, k), 'utf8')]),
      );
    };
    const { secrets, configMaps } = this.cluster;
    for (const from of c.envFrom ?? []) {
      const values = from.secretRef
        ? readDir('Secret', secrets[from.secretRef.name ?? ''], from.secretRef.name ?? '', from.secretRef.optional)
        : from.configMapRef
          ? readDir(
              'ConfigMap',
              configMaps[from.configMapRef.name ?? ''],
              from.configMapRef.name ?? '',
              from.configMapRef.optional,
            )
          : {};
      for (const [k, v] of Object.entries(values)) specEnv.set((from.prefix ?? '') + k, v);
    }
    for (const e of c.env ?? []) specEnv.set(e.name, this.envValue(e, lookup, secrets, configMaps));
    const user = this.userOf(c);
    const env: Record<string, string> = {
      PATH: `${join(this.cluster.rayVenv, 'bin')}:${SYSTEM_PATH}`,
      HOSTNAME: this.hostname,
      HOME: user.uid === undefined || user.uid === 0 ? '/root' : '/',
    };
    for (const [k, v] of specEnv) env[k] = v;
    return { env, specEnv };
  }

  private envValue(
    e: IEnvVar,
    lookup: (n: string) => string | undefined,
    secrets: Record<string, string>,
    configMaps: Record<string, string>,
  ): string {
    // Like the kubelet: a literal value is expanded against the variables defined before it;
    // valueFrom values are taken verbatim.
    if (e.value !== undefined && e.value !== '') return expandVars(e.value, lookup);
    const from = e.valueFrom;
    if (!from) return '';
    if (from.fieldRef) {
      const path = from.fieldRef.fieldPath;
      const meta = this.manifest.metadata;
      const label = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
      if (label) return (label[1] === 'labels' ? meta.labels : meta.annotations)?.[label[2]!] ?? '';
      const fields: Record<string, string> = {
        'metadata.name': this.name,
        'metadata.namespace': this.namespace,
        'metadata.uid':
          meta.uid ??
          `00000000-0000-4000-8000-${this.ip
            .split('.')
            .map((o) => o.padStart(3, '0'))
            .join('')}`,
        'status.podIP': this.ip,
        'status.podIPs': this.ip,
        'spec.nodeName': 'local-node',
        'spec.serviceAccountName': this.manifest.spec.serviceAccountName ?? 'default',
      };
      const v = fields[path];
      if (v === undefined) throw new Error(`pod ${this.name}: env ${e.name}: fieldRef ${path} is not supported`);
      return v;
    }
    const keyRef = from.secretKeyRef ?? from.configMapKeyRef;
    if (keyRef) {
      const dir = (from.secretKeyRef ? secrets : configMaps)[keyRef.name ?? ''];
      const file = dir && join(dir, keyRef.key);
      if (file && existsSync(file)) return readFileSync(file, 'utf8');
      if (keyRef.optional) return '';
      throw new Error(`pod ${this.name}: env ${e.name}: ${keyRef.name}/${keyRef.key} not found`);
    }
    throw new Error(`pod ${this.name}: env ${e.name}: unsupported valueFrom ${JSON.stringify(from)}`);
  }

  private userOf(c: IContainer): { uid?: number; gid?: number } {
    const pod = this.manifest.spec.securityContext;
    return {
      uid: c.securityContext?.runAsUser ?? pod?.runAsUser,
      gid: c.securityContext?.runAsGroup ?? pod?.runAsGroup,
    };
  }

  private mountScript(c: IContainer, mountOrder: IVolumeMount[]): string {
    const lines = ['set -e', `hostname ${shq(this.hostname)}`, 'mount -t tmpfs -o mode=1777 shm /dev/shm'];
    this.cluster.ensureMountPoint('/tmp/ray', false);
    lines.push(`mount --bind ${shq(join(this.dir, 'tmp-ray'))} /tmp/ray`);
    const mounted: { path: string; source: string }[] = [];
    for (const m of mountOrder) {
      if (m.subPathExpr) throw new Error(`pod ${this.name}: subPathExpr is not supported`);
      let source = this.volumeDir(m.name);
      if (m.subPath) {
        source = join(source, m.subPath);
        if (!existsSync(source)) mkdirSync(source, { recursive: true }); // as the kubelet does
      }
      const target = m.mountPath;
      const isFile = statSync(source).isFile();
      // A mount point inside an earlier mount of this container lives in that volume's source.
      const parent = [...mounted]
        .reverse()
        .find((p) => target.startsWith(p.path.endsWith('/') ? p.path : p.path + '/'));
      if (parent) {
        const inner = join(parent.source, relative(parent.path, target));
        if (isFile) {
          mkdirSync(dirname(inner), { recursive: true });
          if (!existsSync(inner)) writeFileSync(inner, '');
        } else mkdirSync(inner, { recursive: true });
      } else this.cluster.ensureMountPoint(target, isFile);
      lines.push(`mount --bind ${shq(source)} ${shq(target)}`);
      if (m.readOnly || this.readOnlyVolumes.has(m.name)) lines.push(`mount -o remount,bind,ro ${shq(target)}`);
      mounted.push({ path: target, source });
    }
    if (c.securityContext?.readOnlyRootFilesystem) lines.push(readOnlyRootScript(mounted.map((m) => m.path)));
    if (c.workingDir) lines.push(`cd ${shq(c.workingDir)}`);
    return lines.join('\n');
  }

  /** The setpriv prefix for the container's securityContext (see securityArgs), or []. */
  private userWrap(c: IContainer): string[] {
    const args = securityArgs(this.manifest.spec.securityContext, c.securityContext, this.userOf(c));
    return args.length ? [SETPRIV, ...args, '--'] : [];
  }

  private startContainer(c: IContainer, init: boolean): ContainerProcess {
    if (!c.command?.length)
      throw new Error(
        `pod ${this.name}: container ${c.name} has no command (the image's ` + `entrypoint is unknown here)`,
      );
    for (const m of c.volumeMounts ?? []) {
      for (const own of [this.cluster.workDir, this.cluster.rayVenv]) {
        if (own === m.mountPath || own.startsWith(m.mountPath.replace(/\/?$/, '/'))) {
          throw new Error(`pod ${this.name}: mountPath ${m.mountPath} would hide ${own}`);
        }
      }
      if (!isAbsolute(m.mountPath)) throw new Error(`pod ${this.name}: mountPath ${m.mountPath} is not absolute`);
    }
    const { env, specEnv } = this.resolveEnv(c);
    const lookup = (n: string) => specEnv.get(n);
    const argv = [...c.command, ...(c.args ?? [])].map((a) => expandVars(a, lookup));
    const logFile = join(this.dir, 'logs', `${c.name}.log`);
    const marker = join(this.dir, `${c.name}.started`);
    rmSync(marker, { force: true });
    const userWrap = this.userWrap(c);
    // fd 3 (the marker, opened here, outside the container's mount namespace) stays reachable
    // even if a volume hides its directory, and, being a write on the machine's mount rather
    // than on the container's copy, does not keep readOnlyRootFilesystem's `remount,ro` busy.
    // Writing to it says "mounts done, about to exec" (the container runs).
    const script = [this.mountScript(c, c.volumeMounts ?? []), 'echo started >&3', 'exec 3>&-', 'exec "$@"'].join('\n');
    const logFd = openSync(logFile, 'a');
    const markerFd = openSync(marker, 'w');
    const child = spawn(
      IP,
      [
        'netns',
        'exec',
        this.netns,
        UNSHARE,
        '--mount',
        '--uts',
        '--pid',
        '--fork',
        '--kill-child=SIGKILL',
        '--mount-proc',
        '--propagation',
        'private',
        SH,
        '-c',
        script,
        'sh',
        ...userWrap,
        ...argv,
      ],
      { env, detached: true, stdio: ['ignore', logFd, logFd, markerFd] },
    );
    closeSync(logFd);
    closeSync(markerFd);
    if (child.pid === undefined) throw new Error(`pod ${this.name}: could not spawn container ${c.name}`);
    const proc: ContainerProcess = {
      name: c.name,
      init,
      child,
      pid: child.pid,
      logFile,
      env,
      userWrap,
      started: false,
      exitCode: undefined,
      exited: new Promise((resolveExit) => {
        child.on('exit', (code, signal) => {
          proc.exitCode = code ?? (signal ? 128 + (osSignal(signal) ?? 0) : null);
          resolveExit(proc.exitCode);
        });
        child.on('error', () => resolveExit(null));
      }),
    };
    this.processes.push(proc);
    return proc;
  }

  /** Resolves when the container has exec'd its command; rejects if it exits first. */
  private async waitStarted(proc: ContainerProcess): Promise<void> {
    const marker = join(this.dir, `${proc.name}.started`);
    for (;;) {
      if (existsSync(marker) && readFileSync(marker, 'utf8').includes('started')) {
        proc.started = true;
        return;
      }
      if (proc.exitCode !== undefined)
        throw new PodStartError(
          `pod ${this.name}: container ${proc.name} failed to ` + `start (exit ${proc.exitCode})`,
          this.logs(proc.name),
        );
      await sleep(50);
    }
  }

  async runContainers(): Promise<void> {
    for (const c of this.manifest.spec.initContainers ?? []) {
      const proc = this.startContainer(c, true);
      if (c.restartPolicy === 'Always') {
        await this.waitStarted(proc); // a native sidecar keeps running next to the others
        continue;
      }
      const code = await proc.exited;
      proc.started = true;
      if (code !== 0)
        throw new PodStartError(`pod ${this.name}: init container ${c.name} exited ${code}`, this.logs(c.name));
    }
    const procs = this.manifest.spec.containers.map((c) => this.startContainer(c, false));
    await Promise.all(procs.map((p) => this.waitStarted(p)));
  }

  private proc(container?: string): ContainerProcess {
    const name = container ?? this.manifest.spec.containers[0]?.name;
    const p = [...this.processes].reverse().find((x) => x.name === name);
    if (!p) throw new Error(`pod ${this.name} has no started container ${String(name)}`);
    return p;
  }

  /** Combined stdout+stderr of a container (default: the first container), like `kubectl logs`. */
  logs(container?: string): string {
    const p = this.proc(container);
    return existsSync(p.logFile) ? readFileSync(p.logFile, 'utf8') : '';
  }

  /** Exit code of a container: undefined while it runs. */
  exitCode(container?: string): number | null | undefined {
    return this.proc(container).exitCode;
  }

  /** Waits for a log line matching `pattern`; rejects on timeout or if the container exits first. */
  async waitForLog(pattern: RegExp | string, opts: { container?: string; timeoutMs?: number } = {}): Promise<string> {
    const p = this.proc(opts.container);
    const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
    const matches = (line: string) => (typeof pattern === 'string' ? line.includes(pattern) : pattern.test(line));
    for (;;) {
      const exited = p.exitCode !== undefined;
      const line = this.logs(p.name).split('\n').find(matches);
      if (line !== undefined) return line;
      if (exited)
        throw new Error(
          `pod ${this.name}: container ${p.name} exited (${p.exitCode}) before logging ` +
            `${pattern}\n--- log ---\n${tail(this.logs(p.name))}`,
        );
      if (Date.now() > deadline)
        throw new Error(
          `pod ${this.name}: timed out waiting for ${pattern} in ` +
            `${p.name}\n--- log ---\n${tail(this.logs(p.name))}`,
        );
      await sleep(200);
    }
  }

  /**
   * Runs a command inside a running container, like `kubectl exec`: nsenter into its mount,
   * UTS, network and PID namespaces, as its user, with its env (plus opts.env).
   */
  exec(command: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const p = this.proc(opts.container);
    if (p.exitCode !== undefined)
      return Promise.reject(new Error(`pod ${this.name}: container ${p.name} is not running`));
    const nsInit = childPids(p.pid)[0];
    if (nsInit === undefined) return Promise.reject(new Error(`pod ${this.name}: container ${p.name} has no process`));
    const child = spawn(
      NSENTER,
      [`--target=${nsInit}`, '--mount', '--uts', '--net', '--pid', '--wd=/', '--', ...p.userWrap, ...command],
      {
        env: { ...p.env, ...opts.env },
        detached: true,
        stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      },
    );
    this.execChildren.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    if (child.stdin) {
      child.stdin.on('error', () => {}); // EPIPE when the command exits without reading its input
      child.stdin.end(opts.input);
    }
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child);
    }, opts.timeoutMs ?? 120_000);
    return new Promise((resolveExec, rejectExec) => {
      child.on('error', rejectExec);
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        this.execChildren.delete(child);
        resolveExec({ code, signal, stdout, stderr, timedOut });
      });
    });
  }

  /** SIGKILLs every recorded process group and pid; the PID namespaces take the descendants. */
  killAll(): void {
    for (const child of this.execChildren) killGroup(child);
    for (const p of this.processes) {
      if (p.exitCode !== undefined) continue;
      killQuietly(-p.pid);
      killQuietly(p.pid);
    }
  }

  /**
   * Stops this pod's processes (e.g. to kill a Ray worker mid-test); the cluster still deletes
   * its namespace at stop(). Kills each container's PID-namespace init first, so that the
   * kernel kills the rest of the namespace and unshare reaps it and exits (no orphaned
   * zombies), then SIGKILLs the recorded process groups for anything left.
   */
  async kill(): Promise<void> {
    for (const child of this.execChildren) killGroup(child);
    const running = this.processes.filter((p) => p.exitCode === undefined);
    for (const p of running) for (const init of childPids(p.pid)) killQuietly(init);
    await Promise.race([Promise.all(running.map((p) => p.exited)), sleep(3000)]);
    this.killAll();
    await Promise.race([Promise.all(running.map((p) => p.exited)), sleep(3000)]);
  }
}

/**
 * sh that makes the container's root filesystem read-only: every mount point of the container's
 * private mount namespace, except /proc, /sys, /dev (and below) and the volume mountPaths
 * `keep` (and below), is remounted `remount,bind,ro`. A bind remount changes that mount only
 * (this namespace's copy), never the filesystem, so the machine's mounts stay writable.
 */
export function readOnlyRootScript(keep: readonly string[]): string {
  const skip = [
    '/proc',
    '/proc/*',
    '/sys',
    '/sys/*',
    '/dev',
    '/dev/*',
    ...keep.flatMap((k) => [shq(k), `${shq(k.replace(/\/+$/, ''))}/*`]),
  ];
  return [
    '# readOnlyRootFilesystem: true',
    "awk '{print $5}' /proc/self/mountinfo | while read -r m; do",
    `  case "$m" in ${skip.join('|')}) continue ;; esac`,
    '  mount -o remount,bind,ro "$m"',
    'done',
    "touch /.ray-tls-rootfs-probe 2>/dev/null && { echo 'readOnlyRootFilesystem: / is still writable' >&2; rm -f " +
      '/.ray-tls-rootfs-probe; exit 1; }',
    'true',
  ].join('\n');
}

type PodSecurity = IPodSpec['securityContext'];
type ContainerSecurity = IContainer['securityContext'];

/** A Kubernetes capability name (NET_ADMIN, CAP_NET_ADMIN) as setpriv spells it (net_admin). */
function capName(cap: string): string {
  return cap.toLowerCase().replace(/^cap_/, '');
}

/**
 * setpriv options for a container's securityContext (pod-level values as defaults), in the order
 * setpriv takes them: user and groups (only when runAsUser or runAsGroup is set, as before),
 * capabilities (drop/add: the bounding set, and the inheritable set emptied, so that no
 * process of the container can gain a dropped capability back; with drop ALL even uid 0 has
 * no effective capability after exec), and --no-new-privs for allowPrivilegeEscalation: false.
 * Capabilities without `drop` and `add` are left as they are (the runner does not model the
 * runtime's default set).
 */
export function securityArgs(pod: PodSecurity, c: ContainerSecurity, user: { uid?: number; gid?: number }): string[] {
  const args: string[] = [];
  if (user.uid !== undefined || user.gid !== undefined) {
    const groups = [...(pod?.fsGroup !== undefined ? [pod.fsGroup] : []), ...(pod?.supplementalGroups ?? [])];
    args.push(
      `--reuid=${user.uid ?? 0}`,
      `--regid=${user.gid ?? 0}`,
      ...(groups.length ? [`--groups=${groups.join(',')}`] : ['--clear-groups']),
    );
  }
  const drop = c?.capabilities?.drop ?? [];
  const add = c?.capabilities?.add ?? [];
  if (drop.length || add.length) {
    const all = drop.some((d) => capName(d) === 'all');
    const bounding = [
      ...(all ? ['-all'] : drop.map((d) => `-${capName(d)}`)),
      ...add.filter((a) => capName(a) !== 'all').map((a) => `+${capName(a)}`),
    ];
    if (bounding.length) args.push(`--bounding-set=${bounding.join(',')}`);
    args.push('--inh-caps=-all');
  }
  if (c?.allowPrivilegeEscalation === false) args.push('--no-new-privs');
  return args;
}

function applyFsGroup(dir: string, gid: number, readOnly: boolean): void {
  // Like the kubelet's SetVolumeOwnership: group-own everything, add group read (and write
  // for writable volumes), setgid on directories.
  const walk = (p: string) => {
    const st = statSync(p);
    chownSync(p, st.uid, gid);
    if (st.isDirectory()) {
      chmodSync(p, (st.mode & 0o7777) | 0o2000 | (readOnly ? 0o050 : 0o070));
      for (const e of readdirSync(p)) walk(join(p, e));
    } else chmodSync(p, (st.mode & 0o7777) | (readOnly ? 0o040 : 0o060));
  };
  walk(dir);
}

function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(/\s+/).filter(Boolean).map(Number);
  } catch {
    // Kernels without CONFIG_PROC_CHILDREN: scan /proc for the parent pid.
    return readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .filter((d) => {
        try {
          const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
          return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid;
        } catch {
          return false;
        }
      })
      .map(Number);
  }
}

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  killQuietly(-child.pid);
  killQuietly(child.pid);
}

function osSignal(signal: NodeJS.Signals): number | undefined {
  return (constants.signals as Record<string, number>)[signal];
}

function tail(text: string, lines = 40): string {
  return text.split('\n').slice(-lines).join('\n');
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A pod from a workload's pod template (Deployment, Job, RayCluster group...): name, namespace, labels, spec. */
export function podFromTemplate(
  name: string,
  template: { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec?: IPodSpec },
  namespace?: string,
): PodManifest {
  if (!template.spec) throw new Error(`pod template for ${name} has no spec`);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels: template.metadata?.labels, annotations: template.metadata?.annotations },
    spec: structuredClone(template.spec),
  };
}

/** Runs `fn` with a fresh cluster and always stops it. */
export async function withCluster<T>(opts: ClusterOptions, fn: (cluster: PodCluster) => Promise<T>): Promise<T> {
  const cluster = PodCluster.create(opts);
  try {
    return await fn(cluster);
  } finally {
    await cluster.stop();
  }
}
