// Installs what `npm start` / `npm test` need when it is missing, so both work on
// a fresh clone: node_modules (npm install), and for tests the Debian packages
// (shellcheck, podman, runc, iproute2, openssl, tcpdump) and real Ray (scripts/ensure-ray.sh).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const forTests = process.argv.includes('--test');
const sh = (cmd, args, env = {}) => execFileSync(cmd, args, { stdio: 'inherit', env: { ...process.env, ...env } });
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

// Not `npm ci`: the registry reached here lacks some of rollup's optional platform
// packages, which `npm ci` insists the lock file lists; `npm install` follows the lock.
if (!existsSync('node_modules/.package-lock.json')) {
  console.error('ensure-deps: installing npm packages (npm install)');
  sh('npm', ['install', '--no-audit', '--no-fund']);
}

if (forTests) {
  const wanted = { shellcheck: 'shellcheck', podman: 'podman', runc: 'runc', ip: 'iproute2', openssl: 'openssl', tcpdump: 'tcpdump', kubectl: null, kpt: null };
  const missing = Object.entries(wanted).filter(([cmd, pkg]) => pkg && !has(cmd)).map(([, pkg]) => pkg);
  if (missing.length) {
    if (process.getuid?.() !== 0) throw new Error(`ensure-deps: missing ${missing.join(', ')}; install them (apt-get install ${missing.join(' ')}) or run as root`);
    console.error(`ensure-deps: apt-get install ${missing.join(' ')}`);
    sh('apt-get', ['update', '-qq']);
    sh('apt-get', ['install', '-y', '-qq', ...missing], { DEBIAN_FRONTEND: 'noninteractive' });
  }
  for (const tool of ['kubectl', 'kpt']) if (!has(tool)) throw new Error(`ensure-deps: ${tool} is not on PATH; the end-to-end tests drive the real ${tool}`);
  sh('bash', ['scripts/ensure-ray.sh']);
}
