// `ray-tls check HOST:PORT`: the command (arguments, files, exit code). It probes the
// endpoint (check/probe.ts, the only network I/O), judges what it saw (check/judge.ts, pure)
// and prints the report (check/report.ts). Key material and the token are read from files
// and never printed.

import { readFileSync } from 'node:fs';
import { parseFlags, wholeNumber } from './args.js';
import { type Check, type CheckReport, judge } from './check/judge.js';
import { type Credentials, probe } from './check/probe.js';
import { formatJson, formatReport } from './check/report.js';

export type { CheckReport } from './check/judge.js';

export const CHECK_HELP = `Usage: ray-tls check HOST:PORT [options]

Connects to a Ray TLS endpoint (GCS 6379, Ray client 10001, raylet ports) like a Ray
gRPC client (TLS, ALPN h2) and reports, one line per fact: whether the port speaks
TLS, the certificate chain it presented, whether the chain verifies against --ca,
whether the certificate names HOST, the expiry of each certificate, and whether
mTLS is on: "on" only when a client without a certificate and a client with a
throwaway self-signed certificate (made in memory) are both refused while the
--cert client is served (the server speaks after its handshake); without --cert,
or when the server refuses every client, mTLS is "unknown". Exit 0 when every
check passed, 1 when one failed, 2 on a usage error or an unreadable file.

Options:
  --ca FILE           PEM CA bundle to verify against (without it the chain is
                      reported as unverified, a failed check)
  --cert FILE         client certificate (PEM) for mTLS; needs --key. Also connects
  --key FILE          with it and reports whether the server served it
  --servername NAME   name sent as SNI and checked in the certificate (default HOST)
  --token-file FILE   Ray auth token: read and its presence reported, never printed
                      or sent
  --warn-days N       fail when a certificate expires within N days (default 0:
                      fail only when expired)
  --timeout SECONDS   per connection (default 5)
  --json              print the report as JSON`;

export interface CheckOptions {
  host: string;
  port: number;
  ca?: string;
  cert?: string;
  key?: string;
  servername?: string;
  tokenFile?: string;
  json: boolean;
  warnDays: number;
  timeoutSeconds: number;
}

/** A usage problem found after parsing: an unreadable or unusable file. Exit 2. */
export class CheckInputError extends Error {}

function parseEndpoint(s: string): { host: string; port: number } | string {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(s) ?? /^([^:[\]]+):(\d+)$/.exec(s);
  if (!m) return `expected HOST:PORT (or [IPv6]:PORT), got ${s}`;
  const port = Number(m[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return `port must be 1-65535, got ${m[2]}`;
  return { host: m[1], port };
}

export function parseCheckArgs(argv: string[]): CheckOptions | string {
  const spec = { type: 'string' } as const;
  const flags = {
    ca: spec,
    cert: spec,
    key: spec,
    servername: spec,
    'token-file': spec,
    'warn-days': spec,
    timeout: spec,
  };
  const parsed = parseFlags(argv, { ...flags, json: { type: 'boolean' } }, true);
  if (typeof parsed === 'string') return parsed;
  const v = parsed.values as Record<string, string | undefined> & { json?: boolean };
  const warnDays = wholeNumber('--warn-days', v['warn-days'] ?? '0', 0, 'days');
  if (typeof warnDays === 'string') return warnDays;
  const timeoutSeconds = Number(v.timeout ?? 5);
  if (!(timeoutSeconds > 0 && timeoutSeconds <= 3600)) {
    return `--timeout must be more than 0 and at most 3600 seconds, got ${v.timeout}`;
  }
  const positional = parsed.positionals;
  if (!positional.length) return 'HOST:PORT is missing';
  if (positional.length > 1) return `one HOST:PORT only, got ${positional.join(' ')}`;
  if (!v.cert !== !v.key) return '--cert and --key go together';
  const endpoint = parseEndpoint(positional[0]);
  if (typeof endpoint === 'string') return endpoint;
  const files = { ca: v.ca, cert: v.cert, key: v.key, servername: v.servername, tokenFile: v['token-file'] };
  const given = Object.fromEntries(Object.entries(files).filter(([, x]) => x !== undefined)) as Partial<CheckOptions>;
  return { ...given, json: v.json ?? false, warnDays, timeoutSeconds, ...endpoint };
}

function readInput(flag: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new CheckInputError(`cannot read ${flag} ${file}: ${why}`);
  }
}

async function readMaterial(o: CheckOptions): Promise<Credentials> {
  const m: Credentials = {};
  if (o.ca) {
    m.ca = readInput('--ca', o.ca);
    const pem = m.ca.includes('-----BEGIN CERTIFICATE-----');
    if (!pem) throw new CheckInputError(`--ca ${o.ca} holds no PEM certificate`);
  }
  if (o.cert && o.key) {
    m.cert = readInput('--cert', o.cert);
    m.key = readInput('--key', o.key);
  }
  try {
    (await import('node:tls')).createSecureContext(m);
  } catch (e) {
    // OpenSSL's message names the problem (e.g. key values mismatch), never the key.
    throw new CheckInputError(`unusable --ca/--cert/--key: ${(e as Error).message}`);
  }
  return m;
}

function tokenCheck(file: string): Check {
  const token = readInput('--token-file', file).trim();
  return token
    ? { name: 'token', ok: true, detail: `Ray auth token present in ${file} (not sent, not printed)` }
    : { name: 'token', ok: false, detail: `token file ${file} is empty` };
}

/** Reads the files, probes the endpoint as each client, judges what it saw. */
export async function checkEndpoint(o: CheckOptions): Promise<CheckReport> {
  const m = await readMaterial(o);
  const token = o.tokenFile ? tokenCheck(o.tokenFile) : undefined;
  const name = o.servername ?? o.host;
  const observations = await probe(
    { host: o.host, port: o.port, servername: name, timeoutMs: o.timeoutSeconds * 1000 },
    m,
  );
  const endpoint = `${o.host.includes(':') ? `[${o.host}]` : o.host}:${o.port}`;
  const context = { endpoint, name, caFile: o.ca, certFile: o.cert, warnDays: o.warnDays, now: Date.now(), token };
  return judge(observations, context);
}

export async function checkCommand(
  argv: string[],
  out: { stdout: (s: string) => void; stderr: (s: string) => void },
): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    out.stdout(`${CHECK_HELP}\n`);
    return 0;
  }
  const o = parseCheckArgs(argv);
  if (typeof o === 'string') {
    out.stderr(`error: ${o}\n\n${CHECK_HELP}\n`);
    return 2;
  }
  let r: CheckReport;
  try {
    r = await checkEndpoint(o);
  } catch (e) {
    if (!(e instanceof CheckInputError)) throw e;
    out.stderr(`error: ${e.message}\n`);
    return 2;
  }
  out.stdout(`${o.json ? formatJson(r) : formatReport(r)}\n`);
  return r.ok ? 0 : 1;
}
