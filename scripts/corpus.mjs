#!/usr/bin/env node
// Runs dist/ray-tls.js over every YAML file under the given directories and checks the
// invariants of test/support/invariants.mjs.
//
//   node scripts/corpus.mjs [--save DIR] [--modes per-pod,pod-dns,pod-dns@NS] DIR_OR_FILE...
//
// A plain manifest file (one or more documents) is wrapped into a ResourceList (its documents
// that have apiVersion and kind, as items) and run once per mode. A file that already is a
// ResourceList runs as it is when it has a functionConfig, else once per mode. Files with no
// Kubernetes manifest (values files, Helm templates, CI configs) are counted, not run.
// A mode M@NS runs mode M after setting metadata.namespace NS where a manifest has none.
// --save DIR keeps each run's input, output, second output and stderr; --recheck DIR
// classifies such saved runs again (after a change to the invariants) without running ray-tls.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMap, parseAllDocuments, parseDocument, stringify } from 'yaml';
import { checkInvariants } from '../test/support/invariants.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const fn = join(root, 'dist', 'ray-tls.js');

const args = process.argv.slice(2);
let saveDir = '';
let recheckDir = '';
let modes = ['per-pod', 'pod-dns'];
const targets = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--save') saveDir = resolve(args[++i]);
  else if (args[i] === '--recheck') recheckDir = resolve(args[++i]);
  else if (args[i] === '--modes') modes = args[++i].split(',');
  else if (args[i] === '--help' || args[i] === '-h') {
    console.log('usage: node scripts/corpus.mjs [--save DIR] [--modes per-pod,pod-dns,pod-dns@NS] DIR_OR_FILE...');
    process.exit(0);
  } else targets.push(args[i]);
}
if (targets.length === 0 && !recheckDir) {
  console.error('usage: node scripts/corpus.mjs [--save DIR] [--modes per-pod,pod-dns,pod-dns@NS] DIR_OR_FILE...');
  process.exit(2);
}

function yamlFiles(p) {
  const st = statSync(p);
  if (st.isFile()) return [p];
  return readdirSync(p)
    .sort()
    .flatMap((n) => {
      const q = join(p, n);
      if (statSync(q).isDirectory()) return yamlFiles(q);
      return /\.ya?ml$/.test(n) ? [q] : [];
    });
}

/** A block mapping's source text as a `- ` sequence entry at column 0. */
function asItem(text) {
  const lines = text.replace(/\s+$/, '').split('\n');
  return lines.map((l, i) => (i === 0 ? `- ${l}` : l === '' ? '' : `  ${l}`)).join('\n');
}

const sameJs = (a, b) => JSON.stringify(a) === JSON.stringify(b);

/**
 * The manifests of a file as ResourceList item texts, keeping their source text (comments,
 * quoting) where re-indenting it gives the same data, else as JSON flow maps.
 * @returns {{items: string[], skipped: string} }
 */
function manifestItems(text, namespace = '') {
  let docs;
  try {
    docs = parseAllDocuments(text, { uniqueKeys: false });
  } catch (e) {
    return { items: [], skipped: `unparsable (${String(e).split('\n')[0]})` };
  }
  if (!Array.isArray(docs)) return { items: [], skipped: 'unparsable' };
  const bad = docs.find((d) => d.errors.length > 0);
  if (bad) return { items: [], skipped: `invalid YAML (${bad.errors[0].message.split('\n')[0]})` };
  const items = [];
  for (const d of docs) {
    let js = d.toJS({ maxAliasCount: -1 });
    if (!js || typeof js !== 'object' || Array.isArray(js) || !js.apiVersion || !js.kind) continue;
    let c = d.contents;
    let item = '';
    if (
      namespace &&
      js.metadata &&
      typeof js.metadata === 'object' &&
      js.metadata.namespace == null &&
      !/^(Namespace|ClusterRole|ClusterRoleBinding|CustomResourceDefinition|ClusterIssuer|PriorityClass|StorageClass|PersistentVolume)$/.test(
        js.kind,
      )
    ) {
      // as `kustomize`'s namespace: would: the document re-printed with metadata.namespace set
      d.setIn(['metadata', 'namespace'], namespace);
      js = d.toJS({ maxAliasCount: -1 });
      const printed = String(d).replace(/^---\n/, '');
      item = asItem(printed);
      c = undefined;
    }
    if (isMap(c) && c.range && !c.flow) {
      const start = text.lastIndexOf('\n', c.range[0] - 1) + 1; // the key's line, from column 0
      if (/^\s*$/.test(text.slice(start, c.range[0]))) {
        item = asItem(' '.repeat(c.range[0] - start) + text.slice(c.range[0], c.range[1]));
      }
    }
    if (item !== '') {
      const back = parseDocument(`items:\n${item}\n`, { uniqueKeys: false });
      if (back.errors.length > 0 || !sameJs(back.toJS({ maxAliasCount: -1 }).items?.[0], js)) item = '';
    }
    items.push(item !== '' ? item : `- ${JSON.stringify(js)}`);
  }
  return { items, skipped: items.length === 0 ? 'no Kubernetes manifest (no apiVersion and kind)' : '' };
}

function configText(mode) {
  return stringify({
    functionConfig: { apiVersion: 'ray-tls.io/v1alpha1', kind: 'RayTLS', metadata: { name: 'corpus' }, spec: { mode } },
  });
}

/** The runs of one file: [{mode, input}] or a reason it was not run. */
function runsOf(file) {
  // a mode "M@NS" runs mode M on the manifests with metadata.namespace NS where they have none
  const text = readFileSync(file, 'utf8');
  let top;
  try {
    top = parseDocument(text, { uniqueKeys: false }).toJS({ maxAliasCount: -1 });
  } catch {
    top = undefined;
  }
  if (top && top.kind === 'ResourceList') {
    if (top.functionConfig) return { runs: [{ mode: top.functionConfig?.spec?.mode ?? 'config', input: text }] };
    return {
      runs: modes.map((mode) => ({ mode, input: `${text.replace(/\s*$/, '\n')}${configText(mode.split('@')[0])}` })),
    };
  }
  const head = 'apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n';
  const runs = [];
  for (const mode of modes) {
    const [m, ns] = mode.split('@');
    const { items, skipped } = manifestItems(text, ns);
    if (skipped) return { skipped };
    runs.push({ mode, input: `${head}${items.join('\n')}\n${configText(m)}` });
  }
  return { runs };
}

function run(input) {
  const r = spawnSync(process.execPath, [fn], { input, encoding: 'utf8', maxBuffer: 256 << 20 });
  return { code: r.status ?? -1, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

function crashed(r) {
  if (r.signal) return `killed by ${r.signal}`;
  // ray-tls echoes its results to stderr as "error: ...", "warning: ...", "info: ..." lines;
  // anything else there (a stack trace, Node's source excerpt of a throw) is JS speaking.
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '' && !/^(error|warning|info): /.test(l));
  const stack = lines.some((l) => /^\s+at .+/.test(l) || /^file:\/\/.*:\d+$/.test(l));
  if (!stack && lines.length <= 2) return '';
  const message = lines.find((l) => /^\w*Error\b|^\w+ \[Error\]/.test(l));
  if (message) return message.slice(0, 200);
  const where = lines.find((l) => /^file:\/\//.test(l));
  return `uncaught exception at ${where ?? '?'}, no message (stderr: ${r.stderr.length} bytes)`;
}

function classify(r, second, input) {
  const c = crashed(r);
  if (c) return { outcome: 'crash', detail: c };
  const violations = checkInvariants(input, r.stdout, second ? second.stdout : '', r.code);
  if (second) {
    const c2 = crashed(second);
    if (c2) violations.push(`second run crashed: ${c2}`);
    else if (second.code !== 0) violations.push(`second run exit ${second.code}`);
  }
  if (violations.some((x) => /^output: /.test(x))) return { outcome: 'invalid-yaml', detail: violations[0] };
  if (r.code === 1 && violations.length === 0) {
    const doc = parseDocument(r.stdout).toJS();
    const err = (doc.results ?? []).find((x) => x.severity === 'error');
    return { outcome: 'refused', detail: err?.message ?? '' };
  }
  if (violations.length === 0) return { outcome: 'ok', detail: '' };
  const kind = (x) =>
    /lacks RAY_USE_TLS/.test(x)
      ? 'no-tls'
      : /not a Ray item/.test(x)
        ? 'non-ray-changed'
        : /^second run/.test(x)
          ? 'not-idempotent'
          : 'violation';
  return { outcome: kind(violations[0]), detail: violations.join(' | ') };
}

// --recheck SAVED: classify the runs kept by an earlier --save again, without running ray-tls.
function recheck(dir) {
  const out = [];
  for (const d of readdirSync(dir).sort()) {
    const p = join(dir, d);
    const read = (f) => {
      try {
        return readFileSync(join(p, f), 'utf8');
      } catch {
        return undefined;
      }
    };
    const input = read('input.yaml');
    if (input === undefined) continue;
    const r = {
      code: Number(read('exit')),
      signal: null,
      stdout: read('output.yaml') ?? '',
      stderr: read('stderr.txt') ?? '',
    };
    const s2 = read('second.yaml');
    const second =
      s2 === undefined
        ? undefined
        : { code: Number(read('second-exit') ?? 0), signal: null, stdout: s2, stderr: read('second-stderr.txt') ?? '' };
    const m = /^\d+-((?:per-pod|pod-dns|shared)(?:@[^-]+)?)-(.*)$/.exec(d);
    const [mode, name] = m ? [m[1], m[2]] : ['?', d];
    const { outcome, detail } = classify(r, second, input);
    writeFileSync(join(p, 'outcome'), `${outcome}\n${detail}\n`);
    out.push({ name: name.replace(/__/g, '/'), mode, outcome, detail });
  }
  return out;
}

const rows = [];
const skipped = [];
const totals = {};
let n = 0;
for (const t of recheckDir ? [] : targets) {
  const base = statSync(t).isDirectory() ? resolve(t, '..') : dirname(resolve(t));
  for (const file of yamlFiles(t)) {
    const name = relative(base, file);
    const { runs, skipped: why } = runsOf(file);
    if (why) {
      skipped.push({ name, why });
      continue;
    }
    for (const { mode, input } of runs) {
      const r = run(input);
      const second = r.code === 0 && !crashed(r) ? run(r.stdout) : undefined;
      const { outcome, detail } = classify(r, second, input);
      rows.push({ name, mode, outcome, detail });
      totals[mode] ??= {};
      totals[mode][outcome] = (totals[mode][outcome] ?? 0) + 1;
      if (saveDir) {
        const d = join(saveDir, `${String(++n).padStart(4, '0')}-${mode}-${name.replace(/[/\\]/g, '__')}`);
        mkdirSync(d, { recursive: true });
        writeFileSync(join(d, 'input.yaml'), input);
        writeFileSync(join(d, 'output.yaml'), r.stdout);
        writeFileSync(join(d, 'stderr.txt'), r.stderr);
        writeFileSync(join(d, 'exit'), `${r.code}\n`);
        if (second) {
          writeFileSync(join(d, 'second.yaml'), second.stdout);
          writeFileSync(join(d, 'second-exit'), `${second.code}\n`);
          writeFileSync(join(d, 'second-stderr.txt'), second.stderr);
        }
        writeFileSync(join(d, 'outcome'), `${outcome}\n${detail}\n`);
      }
    }
  }
}

if (recheckDir) {
  for (const row of recheck(recheckDir)) {
    rows.push(row);
    totals[row.mode] ??= {};
    totals[row.mode][row.outcome] = (totals[row.mode][row.outcome] ?? 0) + 1;
  }
}
const w = Math.min(90, Math.max(4, ...rows.map((r) => r.name.length)));
console.log(`${'file'.padEnd(w)}  ${'mode'.padEnd(11)}  ${'outcome'.padEnd(15)}  detail`);
for (const r of rows) {
  console.log(`${r.name.padEnd(w)}  ${r.mode.padEnd(11)}  ${r.outcome.padEnd(15)}  ${r.detail.slice(0, 300)}`);
}
console.log(`\nnot run (no Kubernetes manifest): ${skipped.length} files`);
const why = {};
for (const s of skipped) why[s.why.replace(/\(.*/, '').trim()] = (why[s.why.replace(/\(.*/, '').trim()] ?? 0) + 1;
for (const [k, c] of Object.entries(why)) console.log(`  ${c}  ${k}`);
console.log('\ntotals:');
for (const [mode, t] of Object.entries(totals)) {
  console.log(
    `  ${mode.padEnd(11)} ${Object.entries(t)
      .map(([k, c]) => `${k} ${c}`)
      .join(', ')}`,
  );
}
const bad = rows.filter((r) => r.outcome !== 'ok' && r.outcome !== 'refused').length;
process.exit(bad > 0 ? 1 : 0);
