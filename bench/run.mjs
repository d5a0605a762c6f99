// The ray-tls benchmark (docs/design.md §7, §6): whole-process runs, medians and
// peak RSS, every ratio to a floor measured in the same run.
//
//   node scripts/build.mjs && node bench/run.mjs [--sizes 1000,10000,50000] [--runs N] [--seed S] [--keep] [--bundle FILE]
//
// Measures (a) bare `node -e ''`, (b) the floor: bench/floor.mjs, one `yaml`
// Document parse + stringify of the same input, (c) `node dist/ray-tls.js`,
// (d) `kubectl kustomize` with the equivalent builtin patch (1,000 resources
// only: it grows quadratically), (e) the cold start: ray-tls on an empty
// ResourceList. Default runs: 5 at up to 1,000 resources, 3 above; at least 10
// for the two tiny commands. --runs N sets every count. Inputs are generated
// into a temp dir first (not timed). Targets are printed as PASS/FAIL; the
// exit code is non-zero only when a run is broken (ray-tls failed or lost items).
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFixture } from './generate.mjs';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
let BUNDLE = join(ROOT, 'dist', 'ray-tls.js');
const FLOOR = join(ROOT, 'bench', 'floor.mjs');
const TIME = '/usr/bin/time';
// Wall seconds, peak RSS KB, user and system CPU seconds. CPU time is what other jobs on a
// shared machine do not inflate: the ratios are printed for both.
const FORMAT = '%e %M %U %S';
const RESULT = /(\d+(?:\.\d+)?) (\d+) (\d+(?:\.\d+)?) (\d+(?:\.\d+)?)\s*$/;
const KUSTOMIZE_SIZES = new Set([1000]);
const TARGETS = { coldStart: 1.3, timeAt10k: 0.3, rssAt10k: 0.3, linearAt50k: 0.1 };

function parseArgs(argv) {
  const opts = { sizes: [1000, 10000, 50000], runs: undefined, seed: 1, keep: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (v === undefined) usage(`${a} needs a value`);
      return v;
    };
    if (a.startsWith('--sizes'))
      opts.sizes = value()
        .split(',')
        .map((s) => Number(s.replace(/_/g, '')));
    else if (a.startsWith('--runs')) opts.runs = Number(value());
    else if (a.startsWith('--seed')) opts.seed = Number(value());
    else if (a === '--keep') opts.keep = true;
    else if (a.startsWith('--bundle'))
      BUNDLE = resolve(value()); // another build, to compare in the same session
    else if (a === '--help' || a === '-h') usage();
    else usage(`unknown argument ${a}`);
  }
  if (!opts.sizes.length || opts.sizes.some((n) => !Number.isInteger(n) || n < 1))
    usage('--sizes takes positive integers, such as 1000,10000');
  if (opts.runs !== undefined && (!Number.isInteger(opts.runs) || opts.runs < 1))
    usage('--runs takes a positive integer');
  if (!Number.isInteger(opts.seed)) usage('--seed takes an integer');
  return opts;
}

function usage(problem) {
  if (problem) process.stderr.write(`error: ${problem}\n`);
  process.stderr.write(
    'usage: node bench/run.mjs [--sizes 1000,10000,50000] [--runs N] [--seed S] [--keep] [--bundle FILE]\n',
  );
  process.exit(problem ? 2 : 0);
}

const haveTime = (() => {
  if (process.env.BENCH_NO_TIME || !existsSync(TIME)) return false; // BENCH_NO_TIME=1 tests the fallback
  const probe = spawnSync(TIME, ['-f', FORMAT, 'true'], { encoding: 'utf8' });
  return probe.status === 0 && RESULT.test(probe.stderr);
})();

let scratch;
let seq = 0;

/**
 * One whole-process run: wall time from spawnSync (ms resolution), peak RSS
 * from /usr/bin/time's %M, or, without it, from bench/maxrss.mjs inside node.
 */
function measure(cmd, args, { input, output, node = false }) {
  const rssFile = join(scratch, `rss-${seq++}`);
  let file = cmd;
  let argv = args;
  const env = { ...process.env };
  if (haveTime) {
    file = TIME;
    argv = ['-f', FORMAT, '-o', rssFile, cmd, ...args];
  } else if (node) {
    argv = ['--import', join(ROOT, 'bench', 'maxrss.mjs'), ...args];
    env.BENCH_RSS_FILE = rssFile;
  }
  const inFd = openSync(input ?? '/dev/null', 'r');
  const outFd = openSync(output ?? '/dev/null', 'w');
  const t0 = process.hrtime.bigint();
  const r = spawnSync(file, argv, { stdio: [inFd, outFd, 'pipe'], env, maxBuffer: 64 << 20 });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  closeSync(inFd);
  closeSync(outFd);
  let rssKB;
  let cpu;
  if (existsSync(rssFile)) {
    const text = readFileSync(rssFile, 'utf8');
    const m = haveTime ? RESULT.exec(text) : undefined;
    rssKB = haveTime ? Number(m?.[2]) : Number(text);
    cpu = m ? Number(m[3]) + Number(m[4]) : undefined;
    rmSync(rssFile);
  }
  // /usr/bin/time reports the child's failure in its own output file; its exit status is the child's.
  return { seconds, rssKB, cpu, status: r.status, error: r.error, stderr: String(r.stderr ?? '') };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Accumulates runs of one command. */
class Series {
  constructor(label, size) {
    this.label = label;
    this.size = size;
    this.runs = [];
    this.failures = [];
  }
  add(r) {
    if (r.status !== 0 || r.error)
      this.failures.push(
        r.error ? String(r.error) : `exit ${r.status}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`,
      );
    this.runs.push(r);
  }
  get seconds() {
    return median(this.runs.map((r) => r.seconds));
  }
  get cpu() {
    const xs = this.runs.map((r) => r.cpu).filter((x) => Number.isFinite(x));
    return xs.length ? median(xs) : NaN;
  }
  get rssMB() {
    const xs = this.runs.map((r) => r.rssKB).filter((x) => Number.isFinite(x));
    return xs.length ? median(xs) / 1024 : NaN;
  }
  get spread() {
    const xs = this.runs.map((r) => r.seconds);
    return `${Math.min(...xs).toFixed(3)}-${Math.max(...xs).toFixed(3)}`;
  }
}

/** Items in a block ResourceList at column 0, by line scan (the output can be tens of MB). */
function countItems(text) {
  let inItems = false;
  let n = 0;
  for (const line of text.split('\n')) {
    if (/^items:\s*(#.*)?$/.test(line)) inItems = true;
    else if (/^[A-Za-z_]/.test(line)) inItems = false;
    else if (inItems && /^-( |$)/.test(line)) n++;
  }
  return n;
}

const fmtInt = (n) => n.toLocaleString('en-US');
const fmt = (x, digits = 3) => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a');
const pad = (s, n) => String(s).padEnd(n);
const lpad = (s, n) => String(s).padStart(n);
const verdict = (ok) => (ok === undefined ? 'n/a' : ok ? 'PASS' : 'FAIL');

function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (!existsSync(BUNDLE)) {
    process.stderr.write(`error: ${BUNDLE} is missing: run node scripts/build.mjs first (npm run bench does)\n`);
    process.exit(2);
  }
  const runsFor = (n) => opts.runs ?? (n <= 1000 ? 5 : 3);
  const tinyRuns = opts.runs ?? 10;
  const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
  const haveKubectl = kubectl.status === 0;
  scratch = mkdtempSync(join(tmpdir(), 'ray-tls-bench-'));
  const problems = [];

  try {
    // Inputs first, untimed.
    const fixtures = new Map();
    for (const n of opts.sizes) {
      const dir = join(scratch, String(n));
      const t0 = Date.now();
      const meta = writeFixture(dir, n, opts.seed);
      fixtures.set(n, { dir, meta, list: join(dir, 'list.yaml') });
      process.stderr.write(
        `generated ${fmtInt(n)} resources (${(meta.bytes / 1024).toFixed(0)} KB, ${meta.rayPods} Ray pod carriers, ` +
          `${meta.clients} clients, ${meta.rayNamespaces} namespaces with Ray) in ${Date.now() - t0} ms\n`,
      );
    }
    const empty = join(scratch, 'empty.yaml');
    writeFileSync(empty, 'apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: []\n');
    const out = join(scratch, 'out.yaml');

    const load0 = loadavg();
    process.stderr.write(
      `node ${process.version}, ${cpus().length} cores, load average ${load0.map((x) => x.toFixed(2)).join(' ')}; ` +
        `peak RSS from ${haveTime ? TIME : 'process.resourceUsage() (bench/maxrss.mjs)'}\n`,
    );

    // Warm the page cache for node and the bundle.
    measure(process.execPath, ['-e', ''], { node: true });
    measure(process.execPath, [BUNDLE], { input: empty, node: true });

    const bare = new Series("node -e ''");
    const cold = new Series('ray-tls, empty list (cold start)');
    for (let i = 0; i < tinyRuns; i++) {
      process.stderr.write(`\rcold start ${i + 1}/${tinyRuns}`);
      bare.add(measure(process.execPath, ['-e', ''], { node: true }));
      cold.add(measure(process.execPath, [BUNDLE], { input: empty, output: out, node: true }));
    }
    process.stderr.write('\n');

    const rows = [];
    for (const n of opts.sizes) {
      const { dir, meta, list } = fixtures.get(n);
      const floor = new Series('floor: yaml Document round trip', n);
      const ray = new Series('ray-tls', n);
      const kust =
        KUSTOMIZE_SIZES.has(n) && haveKubectl ? new Series('kubectl kustomize, 1 builtin patch', n) : undefined;
      const runs = runsFor(n);
      for (let i = 0; i < runs; i++) {
        process.stderr.write(`\r${fmtInt(n)} resources: run ${i + 1}/${runs}`);
        // Interleaved, so that load from other jobs hits every command alike.
        floor.add(measure(process.execPath, [FLOOR], { input: list, node: true }));
        const r = measure(process.execPath, [BUNDLE], { input: list, output: out, node: true });
        ray.add(r);
        if (i === 0) {
          if (r.status !== 0)
            problems.push(
              `ray-tls exited ${r.status} on ${fmtInt(n)} resources: ` +
                `${r.stderr.trim().split('\n').slice(0, 3).join(' | ')}`,
            );
          const items = countItems(readFileSync(out, 'utf8'));
          if (items !== meta.expectedItems)
            problems.push(
              `ray-tls output at ${fmtInt(n)} resources has ${fmtInt(items)} items; expected ` +
                `${fmtInt(meta.expectedItems)} (${fmtInt(n)} input + ${meta.emitted} emitted)`,
            );
          else
            process.stderr.write(` (output checked: ${fmtInt(items)} items = ${fmtInt(n)} + ${meta.emitted} emitted)`);
        }
        if (kust) {
          const k = measure('kubectl', ['kustomize', join(dir, 'kustomize')], { output: out });
          kust.add(k);
          if (i === 0 && k.status === 0) {
            const patched = (readFileSync(out, 'utf8').match(/RAY_TLS_CA_CERT/g) ?? []).length;
            if (patched !== meta.kinds.Deployment)
              problems.push(`kubectl kustomize patched ${patched} Deployments, expected ${meta.kinds.Deployment}`);
          }
        }
      }
      process.stderr.write('\n');
      for (const s of [floor, ray, kust])
        if (s?.failures.length)
          problems.push(`${s.label} at ${fmtInt(n)}: ${s.failures.length} failed run(s): ${s.failures[0]}`);
      rows.push({ n, meta, floor, ray, kust });
    }
    const load1 = loadavg();

    // The table.
    const lines = [];
    lines.push('');
    lines.push(
      `ray-tls benchmark: node ${process.version}, ${cpus().length} cores, load average ${load0[0].toFixed(2)} at ` +
        `start, ${load1[0].toFixed(2)} at end (other jobs may be running); seed ${opts.seed}`,
    );
    lines.push(
      'Whole-process runs; time = median wall seconds (min-max), CPU = median user+system seconds, RSS = median peak RSS.',
    );
    lines.push('');
    const head = `${pad('command', 36)}${lpad('resources', 10)}${lpad('input', 10)}${lpad('runs', 6)}${lpad('median s', 10)}  ${pad('min-max s', 14)}${lpad('CPU s', 8)}${lpad('RSS MB', 8)}`;
    lines.push(head);
    lines.push('-'.repeat(head.length));
    const row = (s, n, bytes) =>
      lines.push(
        `${pad(s.label, 36)}${lpad(n === undefined ? '-' : fmtInt(n), 10)}${lpad(bytes === undefined ? '-' : `${(bytes / 1024).toFixed(0)} KB`, 10)}${lpad(s.runs.length, 6)}${lpad(fmt(s.seconds), 10)}  ${pad(s.spread, 14)}${lpad(fmt(s.cpu, 2), 8)}${lpad(fmt(s.rssMB, 1), 8)}`,
      );
    row(bare);
    row(cold, 0, statSync(empty).size);
    for (const { n, meta, floor, ray, kust } of rows) {
      row(floor, n, meta.bytes);
      row(ray, n, meta.bytes);
      if (kust) row(kust, n, meta.bytes);
    }

    lines.push('');
    const rhead = `${pad('resources', 10)}${lpad('ray-tls/floor time', 20)}${lpad('CPU', 6)}${lpad('ray-tls/floor RSS', 19)}${lpad('ray-tls/kustomize', 19)}${lpad('ray-tls µs/resource', 21)}${lpad('floor µs/resource', 19)}`;
    lines.push(rhead);
    lines.push('-'.repeat(rhead.length));
    for (const { n, floor, ray, kust } of rows) {
      lines.push(
        `${pad(fmtInt(n), 10)}${lpad(fmt(ray.seconds / floor.seconds, 2), 20)}${lpad(fmt(ray.cpu / floor.cpu, 2), 6)}${lpad(fmt(ray.rssMB / floor.rssMB, 2), 19)}${lpad(kust ? fmt(ray.seconds / kust.seconds, 2) : '-', 19)}${lpad(fmt((ray.seconds / n) * 1e6, 1), 21)}${lpad(fmt((floor.seconds / n) * 1e6, 1), 19)}`,
      );
    }

    lines.push('');
    lines.push('Targets (from the issue), by wall time and by CPU time:');
    const both = (label, ratio, target) => {
      const [wall, cpu] = [ratio((s) => s.seconds), ratio((s) => s.cpu)];
      lines.push(
        `  ${label} = ${fmt(wall, 2)} wall, ${fmt(cpu, 2)} CPU  (target <= ${target})  ` +
          `${verdict(wall <= target)} wall, ${verdict(Number.isFinite(cpu) ? cpu <= target : undefined)} CPU`,
      );
    };
    both('cold start (empty list) / bare node', (t) => t(cold) / t(bare), TARGETS.coldStart);
    const at10k = rows.find((r) => r.n === 10000);
    if (at10k) {
      both('10,000 resources: ray-tls/floor time', (t) => t(at10k.ray) / t(at10k.floor), TARGETS.timeAt10k);
      const m = at10k.ray.rssMB / at10k.floor.rssMB;
      lines.push(
        `  10,000 resources: ray-tls/floor peak RSS = ${fmt(m, 2)}  (target <= ${TARGETS.rssAt10k})  ` +
          `${verdict(Number.isFinite(m) ? m <= TARGETS.rssAt10k : undefined)}`,
      );
    } else lines.push('  10,000 resources: not measured (add 10000 to --sizes)');
    const at50k = rows.find((r) => r.n === 50000);
    if (at10k && at50k) {
      // Linear growth: the time per resource at 50,000 stays within 10% of the figure at 10,000.
      for (const [what, t] of [
        ['wall', (s) => s.seconds],
        ['CPU', (s) => s.cpu],
      ]) {
        const per = (r) => (t(r.ray) / r.n) * 1e6;
        const growth = per(at50k) / per(at10k) - 1;
        lines.push(
          `  50,000 resources: ray-tls ${what} µs/resource = ${fmt(per(at50k), 1)} vs ${fmt(per(at10k), 1)} at ` +
            `10,000 (${growth >= 0 ? '+' : ''}${fmt(growth * 100, 1)}%, target within ±${TARGETS.linearAt50k * 100}%)  ` +
            `${verdict(Number.isFinite(growth) ? Math.abs(growth) <= TARGETS.linearAt50k : undefined)}`,
        );
      }
    } else lines.push('  50,000 resources: not measured (add 10000 and 50000 to --sizes)');
    if (!haveKubectl) lines.push('  kubectl not found: the kustomize comparison was skipped');
    if (problems.length) {
      lines.push('');
      for (const p of problems) lines.push(`ERROR: ${p}`);
    }
    process.stdout.write(`${lines.join('\n')}\n`);
    if (problems.length) process.exitCode = 1;
  } finally {
    if (opts.keep) process.stderr.write(`inputs kept in ${scratch}\n`);
    else rmSync(scratch, { recursive: true, force: true });
  }
}

main();
