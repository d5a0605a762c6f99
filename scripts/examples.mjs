// Writes examples/<case>/, a kpt package for each golden example (test/examples/<case>):
// one file per resource of the golden input, the function config, a Kptfile whose pipeline
// runs ray-tls through exec, a README, and .expected/diff.patch: what `kpt fn render`
// changes in the package, made with the real kpt. test/e2e/examples.test.ts renders each
// package again and fails when a package or its diff no longer matches its golden.
//
//   npm run examples:packages      (builds, then this script; needs kpt and git on PATH)
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Document, isMap, parseDocument } from 'yaml';

export const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
export const EXAMPLES = join(ROOT, 'examples');
const GOLDEN = join(ROOT, 'test', 'examples');

/**
 * The goldens that make a package. The others test the ResourceList codec (JSON, indented
 * items, an empty list) or fail on purpose (error-*): a package cannot show them.
 */
export const CASES = readdirSync(GOLDEN)
  .filter((name) => !name.startsWith('error-') && !['empty-list', 'indented-items', 'json-input'].includes(name))
  .sort();

const STRINGIFY = { indentSeq: false, flowCollectionPadding: false, lineWidth: 0 };
const KPT_ANNOTATION = /^(internal\.)?config\.kubernetes\.io\/(path|index|seqindent)$/;

/** What each package shows: the golden input's head comment, else a line here. */
const DESCRIPTIONS = {
  kinds: 'Every workload kind that carries a pod template, Ray or not: only the Ray pods change.',
  'kpt-head-comments': 'Files with head comments, as kpt reads them: the comments stay where they were.',
  kuberay: 'KubeRay RayCluster, RayJob and RayService: every head and worker group gets TLS.',
};

function description(name, text) {
  const head = /^(#[^\n]*\n)+/.exec(text)?.[0];
  const summary = head ? head.replace(/^# ?/gm, '').trim() : DESCRIPTIONS[name];
  if (!summary) throw new Error(`test/examples/${name} has no head comment: describe it in DESCRIPTIONS`);
  return summary;
}

/** The file an item goes to: where kpt read it from, or kind-name.yaml. */
function fileOf(item, used) {
  const path = item.getIn(['metadata', 'annotations', 'config.kubernetes.io/path']);
  if (typeof path === 'string') return path;
  const base = `${item.get('kind')}-${item.getIn(['metadata', 'name'])}`.toLowerCase().replace(/[^a-z0-9.-]+/g, '-');
  let name = `${base}.yaml`;
  for (let i = 2; used.has(name); i++) name = `${base}-${i}.yaml`;
  return name;
}

/** The item without the annotations kpt adds when it reads a package (they are kpt's, not the user's). */
function withoutKptAnnotations(item) {
  const annotations = item.getIn(['metadata', 'annotations']);
  if (!isMap(annotations)) return;
  annotations.items = annotations.items.filter((p) => !KPT_ANNOTATION.test(String(p.key?.value ?? p.key)));
  if (!annotations.items.length) item.deleteIn(['metadata', 'annotations']);
}

/** The function config, as a local-config file of the package; undefined for kpt's empty one. */
function configFile(doc) {
  const config = doc.get('functionConfig', true);
  if (!isMap(config)) return undefined;
  const data = config.get('data', true);
  if (config.get('kind') === 'ConfigMap' && !(isMap(data) && data.items.length)) return undefined;
  const out = new Document(config, { version: '1.1' });
  const metadata = out.get('metadata', true);
  metadata.flow = false;
  if (!isMap(metadata.get('annotations', true))) metadata.set('annotations', out.createNode({}));
  const localConfig = out.createNode('true');
  localConfig.type = 'QUOTE_DOUBLE';
  metadata.get('annotations', true).set('config.kubernetes.io/local-config', localConfig);
  return out.toString(STRINGIFY);
}

function kptfile(name, summary, hasConfig) {
  return `# ${summary.split('\n').join('\n# ')}
# Render from the ray-tls repository root after npm run build (kpt resolves a relative
# exec path against the directory it runs in): see README.md.
apiVersion: kpt.dev/v1
kind: Kptfile
metadata:
  name: ${name}
  annotations:
    config.kubernetes.io/local-config: "true"
info:
  description: ray-tls example ${name}, made from the golden test/examples/${name}
pipeline:
  mutators:
  - exec: dist/ray-tls.js${hasConfig ? '\n    configPath: ray-tls-config.yaml' : ''}
`;
}

function readme(name, summary, files, hasConfig) {
  return `# ${name}

${summary}

This is the golden example \`test/examples/${name}\` as a kpt package: the resources
(${files.map((f) => `\`${f}\``).join(', ')}), ${hasConfig ? 'the function config `ray-tls-config.yaml`' : 'no function config (the defaults)'},
and a \`Kptfile\` whose pipeline runs ray-tls as an executable.

## Render it

From the ray-tls repository root, after \`npm run build\`:

\`\`\`sh
kpt fn render examples/${name} --allow-exec -o stdout    # print the result, change nothing
cp -r examples/${name} /tmp/${name} && kpt fn render /tmp/${name} --allow-exec   # render a copy in place
\`\`\`

kpt resolves the pipeline's \`exec: dist/ray-tls.js\` against the directory it runs in, so run it
from the repository root (or write an absolute path, or \`exec: ray-tls\` with the package installed).

## Expected result

\`.expected/diff.patch\` is what rendering changes in the package: ray-tls edits the Ray pods
in place and writes the resources it emits to \`ray-tls.yaml\`; every other byte stays as it
was. Rendering a second time changes nothing. \`test/e2e/examples.test.ts\` checks both with
the real kpt; \`npm run examples:packages\` regenerates this package from its golden.
`;
}

/** The package's files (path -> text) made from one golden, without the expected diff. */
export function packageFiles(name) {
  const text = readFileSync(join(GOLDEN, name, 'input.yaml'), 'utf8');
  const doc = parseDocument(text, { version: '1.1' });
  const summary = description(name, text);
  const files = new Map();
  for (const item of doc.get('items', true).items) {
    const file = fileOf(item, files);
    withoutKptAnnotations(item);
    const out = new Document(item, { version: '1.1' });
    const text = out.toString(STRINGIFY);
    files.set(file, files.has(file) ? `${files.get(file)}---\n${text}` : text);
  }
  const resources = [...files.keys()];
  const config = configFile(doc);
  if (config) files.set('ray-tls-config.yaml', config);
  files.set('Kptfile', kptfile(name, summary, config !== undefined));
  files.set('README.md', readme(name, summary, resources, config !== undefined));
  return files;
}

const git = (dir, ...args) =>
  execFileSync('git', args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/**
 * Renders a copy of the package with the real kpt (from the repo root, where the Kptfile's
 * exec path points) and returns the git diff of each render: the first is what ray-tls
 * changed, the second must be empty (idempotent).
 */
export function renderDiffs(pkgDir, renders = 2) {
  const work = mkdtempSync(join(tmpdir(), 'ray-tls-example-'));
  try {
    cpSync(pkgDir, work, { recursive: true, filter: (src) => !src.includes(`${pkgDir}/.expected`) });
    git(work, 'init', '-q');
    git(work, 'add', '-A');
    git(work, '-c', 'user.name=x', '-c', 'user.email=x@x', 'commit', '-qm', 'package');
    const diffs = [];
    for (let i = 0; i < renders; i++) {
      execFileSync('kpt', ['fn', 'render', work, '--allow-exec'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      git(work, 'add', '-A');
      diffs.push(git(work, 'diff', '--cached', '--no-color', '--no-ext-diff', '--abbrev=7'));
      git(work, '-c', 'user.name=x', '-c', 'user.email=x@x', 'commit', '-qm', 'render', '--allow-empty');
    }
    return diffs;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function main() {
  rmSync(EXAMPLES, { recursive: true, force: true });
  for (const name of CASES) {
    const dir = join(EXAMPLES, name);
    mkdirSync(join(dir, '.expected'), { recursive: true });
    for (const [file, text] of packageFiles(name)) writeFileSync(join(dir, file), text);
    writeFileSync(join(dir, '.expected', 'diff.patch'), renderDiffs(dir, 1)[0]);
  }
  process.stderr.write(`wrote ${CASES.length} packages under examples/\n`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
