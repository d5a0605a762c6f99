// `ray-tls certs`: a CA and client certificates for clusters without
// cert-manager and for local development, written as the Secrets the default
// mode mounts. Uses the openssl CLI; key material goes to files (0600) only.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { NAME } from '../config/reader.js';
import { CA_NAME, clientCertName } from '../tls/certificates.js';
import { namespaceError, namespaceFlag, parseFlags, shellQuote, wholeNumber } from './args.js';

export const CERTS_HELP = `Usage: ray-tls certs [options]

Writes a CA and client certificates as the Secrets that the default (per-pod) mode
mounts, for clusters without cert-manager (config: certManager: false) and for local
development, then prints the kubectl commands that create the Secrets. Key material
is written to files only (mode 0600), never to stdout.

Options:
  --out DIR         where to write (default ./ray-tls-certs); existing files are kept
                    unless --force
  --namespace NS    namespace for the printed kubectl commands
  --ca-name NAME    the CA's Secret (default ray-tls-ca). A new name writes a new CA beside
                    the old one, for a planned CA rotation (README: Rotation); the client
                    certificates are signed by this CA
  --client NAME     a Ray client workload (repeatable): writes Secret NAME-ray-tls-client
  --key ALG         rsa (4096 bits, default) or ecdsa (P-256)
  --days N          client certificate lifetime in days (default 365)
  --ca-days N       CA lifetime in days (default 1825)
  --force           overwrite existing files`;

export interface CertsOptions {
  out: string;
  caName: string;
  namespace?: string;
  clients: string[];
  key: 'rsa' | 'ecdsa';
  days: number;
  caDays: number;
  force: boolean;
}

export function parseCertsArgs(argv: string[]): CertsOptions | string {
  const parsed = parseFlags(argv, {
    out: { type: 'string' },
    namespace: { type: 'string', short: 'n' },
    client: { type: 'string', multiple: true },
    'ca-name': { type: 'string' },
    key: { type: 'string' },
    days: { type: 'string' },
    'ca-days': { type: 'string' },
    force: { type: 'boolean' },
  });
  if (typeof parsed === 'string') return parsed;
  const v = parsed.values as Record<string, string | undefined> & { client?: string[]; force?: boolean };
  const key = v.key ?? 'rsa';
  if (key !== 'rsa' && key !== 'ecdsa') return `--key must be rsa or ecdsa, got ${key}`;
  const days = wholeNumber('--days', v.days ?? '365', 1, 'days');
  if (typeof days === 'string') return days;
  const caDays = wholeNumber('--ca-days', v['ca-days'] ?? '1825', 1, 'days');
  if (typeof caDays === 'string') return caDays;
  const o: CertsOptions = {
    out: v.out ?? 'ray-tls-certs',
    ...(v.namespace && { namespace: v.namespace }),
    caName: v['ca-name'] ?? CA_NAME,
    clients: v.client ?? [],
    key,
    days,
    caDays,
    force: v.force ?? false,
  };
  const badNamespace = namespaceError(v.namespace);
  if (badNamespace) return badNamespace;
  for (const c of o.clients) if (!NAME.test(c)) return `--client ${c} is not a valid workload name`;
  if (!NAME.test(o.caName)) return `--ca-name ${o.caName} is not a valid Secret name`;
  return o;
}

const FILES = ['ca.crt', 'tls.crt', 'tls.key'];

const openssl = (args: string[], cwd: string) =>
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });

/** Writes the Secrets' files and returns the kubectl commands that create them. */
export function writeCerts(o: CertsOptions): string[] {
  const out = resolve(o.out);
  const secrets = [o.caName, ...o.clients.map(clientCertName)];
  const taken = secrets.filter((s) => existsSync(join(out, s)));
  if (taken.length && !o.force) {
    throw new Error(`${taken.map((s) => join(out, s)).join(', ')} already exist; pass --force to replace them`);
  }
  // New files, so every mode is 0600 whatever the old ones had (open() keeps an existing file's mode).
  if (o.force) for (const s of taken) for (const f of FILES) rmSync(join(out, s, f), { force: true });
  const previous = process.umask(0o077);
  const work = mkdtempSync(join(tmpdir(), 'ray-tls-certs-'));
  try {
    const keyArgs =
      o.key === 'rsa'
        ? ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:4096']
        : ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'];
    writeFileSync(join(work, 'req.cnf'), '[req]\nprompt = no\ndistinguished_name = dn\n[dn]\nCN = ray-tls\n');
    const caDir = join(out, o.caName);
    writeCa(work, caDir, keyArgs, o);
    for (const client of o.clients) writeClient(work, caDir, join(out, clientCertName(client)), client, keyArgs, o);
  } finally {
    process.umask(previous);
    rmSync(work, { recursive: true, force: true });
  }
  const ns = namespaceFlag(o.namespace);
  const files = (s: string) => FILES.map((f) => shellQuote(`--from-file=${join(out, s, f)}`)).join(' ');
  return secrets.map((s) => `kubectl create secret generic ${s}${ns} ${files(s)}`);
}

/** A self-signed CA with its own subject (chains are built by issuer name), laid out like cert-manager's. */
function writeCa(work: string, dir: string, keyArgs: string[], o: CertsOptions): void {
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o700);
  openssl(['genpkey', ...keyArgs, '-out', join(dir, 'tls.key')], work);
  const ext = ['basicConstraints=critical,CA:TRUE', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature'];
  const subject = ['-subj', `/CN=ray-tls CA ${o.caName}`, '-days', String(o.caDays), '-sha256'];
  const addext = ext.flatMap((e) => ['-addext', e]);
  openssl(
    [
      'req',
      '-new',
      '-x509',
      '-config',
      'req.cnf',
      ...subject,
      '-key',
      join(dir, 'tls.key'),
      ...addext,
      '-out',
      join(dir, 'tls.crt'),
    ],
    work,
  );
  copyFileSync(join(dir, 'tls.crt'), join(dir, 'ca.crt'));
}

/** A client certificate (usage client auth) signed by the CA in `caDir`, with the CA's ca.crt. */
function writeClient(
  work: string,
  caDir: string,
  dir: string,
  client: string,
  keyArgs: string[],
  o: CertsOptions,
): void {
  const usage = o.key === 'rsa' ? 'digitalSignature,keyEncipherment' : 'digitalSignature';
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o700);
  openssl(['genpkey', ...keyArgs, '-out', join(dir, 'tls.key')], work);
  openssl(
    ['req', '-new', '-config', 'req.cnf', '-subj', `/CN=${client}`, '-key', join(dir, 'tls.key'), '-out', 'client.csr'],
    work,
  );
  const ext = `basicConstraints = critical,CA:FALSE\nkeyUsage = critical,${usage}\nextendedKeyUsage = clientAuth\n`;
  writeFileSync(join(work, 'client.ext'), ext);
  const serial = `0x${execFileSync('openssl', ['rand', '-hex', '16'], { encoding: 'utf8' }).trim()}`;
  const ca = ['-CA', join(caDir, 'tls.crt'), '-CAkey', join(caDir, 'tls.key'), '-set_serial', serial];
  const validity = ['-days', String(o.days), '-sha256', '-extfile', 'client.ext'];
  openssl(['x509', '-req', '-in', 'client.csr', ...ca, ...validity, '-out', join(dir, 'tls.crt')], work);
  copyFileSync(join(caDir, 'ca.crt'), join(dir, 'ca.crt'));
}
