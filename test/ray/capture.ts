// tcpdump on a PodCluster's bridge (podRunner.ts keeps it as br0 in the private network
// namespace "<cluster id>_net", so every frame between pods crosses it). Started and stopped
// by its process id; `ip netns exec` execs tcpdump in place, so the spawned pid is tcpdump's.
import { type ChildProcess, spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import type { PodCluster } from './podRunner.js';

export interface CaptureStats {
  captured: number;
  dropped: number;
  bytes: number;
  stderr: string;
}

export class BridgeCapture {
  private child: ChildProcess | undefined;
  private stderr = '';
  private exited: Promise<void> = Promise.resolve();

  constructor(
    readonly netns: string,
    readonly file: string,
    readonly iface = 'br0',
  ) {}

  static onCluster(cluster: PodCluster, file: string): BridgeCapture {
    return new BridgeCapture(`${cluster.id}_net`, file);
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts tcpdump (all TCP, whole packets: snaplen 0 = 262144) and waits until it listens. */
  async start(): Promise<void> {
    // -U: write each packet at once, -B: 64 MiB kernel buffer (no drops at Ray's burst rates),
    // -Z root: keep root so the capture file can be written wherever the test puts it.
    const child = spawn(
      'ip',
      [
        'netns',
        'exec',
        this.netns,
        'tcpdump',
        '-i',
        this.iface,
        '-n',
        '-s',
        '0',
        '-B',
        '65536',
        '-U',
        '-Z',
        'root',
        '-w',
        this.file,
        'tcp',
      ],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    this.child = child;
    child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.exited = new Promise((resolveExit) => child.on('exit', () => resolveExit()));
    const deadline = Date.now() + 15_000;
    while (!/listening on/.test(this.stderr)) {
      if (child.exitCode !== null) throw new Error(`tcpdump exited ${child.exitCode}: ${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`tcpdump did not start listening: ${this.stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Stops tcpdump by its pid (SIGINT: it flushes the file and prints its counts). */
  async stop(): Promise<CaptureStats> {
    const child = this.child;
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      process.kill(child.pid, 'SIGINT');
      const killed = await Promise.race([
        this.exited.then(() => false),
        new Promise<boolean>((r) => setTimeout(() => r(true), 10_000)),
      ]);
      if (killed) {
        process.kill(child.pid, 'SIGKILL');
        await this.exited;
      }
    }
    const num = (re: RegExp) => Number(re.exec(this.stderr)?.[1] ?? NaN);
    return {
      captured: num(/(\d+) packets? captured/),
      dropped: num(/(\d+) packets? dropped by kernel/),
      bytes: statSync(this.file).size,
      stderr: this.stderr.trim(),
    };
  }

  /** For afterAll: SIGKILL by pid if still running. */
  kill(): void {
    const child = this.child;
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
}
