// `ray-tls token`: a Ray auth token for `auth: token`, written to a file (0600), never to
// stdout; prints the kubectl command that makes the Secret from that file.
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { DEFAULTS } from '../config/config.js';
import { secretName } from '../config/reader.js';
import { namespaceError, namespaceFlag, parseFlags, shellQuote } from './args.js';

export const TOKEN_HELP = `Usage: ray-tls token [options]

Writes a random Ray auth token (32 bytes, hex) to a file with mode 0600 and prints the
kubectl command that creates the Secret the config's auth: token reads. The token itself
is never printed.

Options:
  --out FILE        where to write (default ./ray-auth-token); an existing file is kept
                    unless --force
  --namespace NS    namespace for the printed kubectl command
  --secret NAME     the Secret's name (default ${DEFAULTS.authSecret.name}; config authSecret.name)
  --key KEY         the Secret's key (default ${DEFAULTS.authSecret.key}, the key KubeRay's authOptions
                    reads; config authSecret.key)
  --force           overwrite an existing file`;

export interface TokenOptions {
  out: string;
  namespace?: string;
  secret: string;
  key: string;
  force: boolean;
}

export function parseTokenArgs(argv: string[]): TokenOptions | string {
  const parsed = parseFlags(argv, {
    out: { type: 'string' },
    namespace: { type: 'string', short: 'n' },
    secret: { type: 'string' },
    key: { type: 'string' },
    force: { type: 'boolean' },
  });
  if (typeof parsed === 'string') return parsed;
  const v = parsed.values as Record<string, string | undefined> & { force?: boolean };
  const o: TokenOptions = {
    out: v.out ?? 'ray-auth-token',
    ...(v.namespace && { namespace: v.namespace }),
    secret: v.secret ?? DEFAULTS.authSecret.name,
    key: v.key ?? DEFAULTS.authSecret.key,
    force: v.force ?? false,
  };
  const badNamespace = namespaceError(v.namespace);
  if (badNamespace) return badNamespace;
  if (secretName(o.secret)) return `--secret ${o.secret} is not a valid Secret name`;
  if (!/^[-._a-zA-Z0-9]+$/.test(o.key)) return `--key ${o.key} is not a valid Secret key`;
  return o;
}

/** Writes the token file; returns the kubectl command (which names the file, not the token). */
export function writeToken(o: TokenOptions): string {
  const file = resolve(o.out);
  if (existsSync(file) && !o.force) throw new Error(`${file} already exists; pass --force to replace it`);
  // A new file, so the mode is 0600 whatever the old one had (open() keeps an existing file's mode).
  if (o.force) rmSync(file, { force: true });
  writeFileSync(file, Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(32))).toString('hex'), {
    mode: 0o600,
    flag: 'wx',
  });
  const from = shellQuote(`--from-file=${o.key}=${file}`);
  return `kubectl create secret generic ${o.secret}${namespaceFlag(o.namespace)} ${from}`;
}
