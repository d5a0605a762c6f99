// npm start: builds the shipped dev overlay with kubectl's kustomize, runs it
// through the bundled function as a ResourceList, and prints the result (the
// TLS-secured manifests that k8s/overlays/dev-tls holds rendered).
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parse, parseAllDocuments, stringify } from 'yaml';

const overlay = process.argv[2] ?? 'k8s/overlays/dev';
const stream = execFileSync('kubectl', ['kustomize', overlay], { encoding: 'utf8' });
const items = parseAllDocuments(stream).map((d) => d.toJS());
// The config the shipped dev-tls overlay is rendered with (scripts/render.mjs).
const functionConfig = parse(readFileSync('k8s/ray-tls-config.yaml', 'utf8'));
const list = stringify(
  { apiVersion: 'config.kubernetes.io/v1', kind: 'ResourceList', items, functionConfig },
  { lineWidth: 0, indentSeq: false },
);
const fn = spawnSync(process.execPath, ['dist/ray-tls.js'], {
  input: list,
  encoding: 'utf8',
  stdio: ['pipe', 'pipe', 'inherit'],
});
// A reader that stops early (`npm start | head`) is not an error: stop quietly, as cat does.
process.stdout.on('error', (e) => {
  if (e.code !== 'EPIPE') throw e;
});
process.stdout.write(fn.stdout);
process.exitCode = fn.status ?? 1;
