// Installs what `npm start` / `npm test` need when it is missing, so both work on
// a fresh clone: node_modules (npm ci, from the lock file), and for tests the Debian
// packages (shellcheck, busybox, podman, runc, iproute2, openssl, tcpdump, unzip, git), real Ray
// (scripts/ensure-ray.sh) and Helm 3, Helm 4, kubectl 1.34 and 1.35 (scripts/ensure-k8s-tools.mjs).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { ensureK8sTools } from './ensure-k8s-tools.mjs';

const forTests = process.argv.includes('--test');
const sh = (cmd, args, env = {}) => execFileSync(cmd, args, { stdio: 'inherit', env: { ...process.env, ...env } });
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

// `npm ci` installs exactly the lock file and never rewrites it. It runs when
// node_modules is missing or no longer matches the lock: npm's record of what it
// installed (node_modules/.package-lock.json) must hold every package of
// package-lock.json at the same version and integrity, except optional ones that npm
// skips on this platform (other OSes' rollup/esbuild/biome binaries), and nothing more.
const lockStale = (installedFile, lockFile) => {
  if (!existsSync(installedFile)) return 'node_modules is missing';
  const installed = JSON.parse(readFileSync(installedFile, 'utf8')).packages ?? {};
  const locked = JSON.parse(readFileSync(lockFile, 'utf8')).packages ?? {};
  const same = (a, b) => a.version === b.version && a.integrity === b.integrity;
  for (const [path, pkg] of Object.entries(locked)) {
    if (path === '') continue;
    if (!installed[path] && !pkg.optional) return `${path} is not installed`;
    if (installed[path] && !same(installed[path], pkg)) return `${path} differs from the lock file`;
  }
  for (const path of Object.keys(installed)) if (!locked[path]) return `${path} is not in the lock file`;
  return undefined;
};
const stale = lockStale('node_modules/.package-lock.json', 'package-lock.json');
if (stale) {
  console.error(`ensure-deps: ${stale}; installing npm packages (npm ci)`);
  sh('npm', ['ci', '--no-audit', '--no-fund']);
}

if (forTests) {
  const wanted = {
    shellcheck: 'shellcheck',
    busybox: 'busybox',
    podman: 'podman',
    runc: 'runc',
    ip: 'iproute2',
    openssl: 'openssl',
    tcpdump: 'tcpdump',
    unzip: 'unzip',
    git: 'git', // test/e2e/examples.test.ts diffs each rendered example package
    kubectl: null,
    kpt: null,
  };
  const missing = Object.entries(wanted)
    .filter(([cmd, pkg]) => pkg && !has(cmd))
    .map(([, pkg]) => pkg);
  if (missing.length) {
    if (process.getuid?.() !== 0)
      throw new Error(
        `ensure-deps: missing ${missing.join(', ')}; install them (apt-get install ${missing.join(' ')}) or run as root`,
      );
    console.error(`ensure-deps: apt-get install ${missing.join(' ')}`);
    sh('apt-get', ['update', '-qq']);
    sh('apt-get', ['install', '-y', '-qq', ...missing], { DEBIAN_FRONTEND: 'noninteractive' });
  }
  for (const tool of ['kubectl', 'kpt'])
    if (!has(tool)) throw new Error(`ensure-deps: ${tool} is not on PATH; the end-to-end tests drive the real ${tool}`);
  ensureK8sTools();
  sh('bash', ['scripts/ensure-ray.sh']);
}
