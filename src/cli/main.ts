// The only place with I/O: argv, stdin, stdout, stderr and the exit code.
import { readFileSync } from 'node:fs';
import { type RunOutput, run } from '../function/run.js';
import { HELM_HELP, helmCommand } from './helm.js';
import { helpText } from './help.js';
import { INTERNAL_ERROR_STATUS, internalErrorText } from './internalError.js';

declare const VERSION: string;

const out = { stdout: (s: string) => process.stdout.write(s), stderr: (s: string) => process.stderr.write(s) };

function readStdin(): string {
  try {
    return readFileSync(0, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EAGAIN' || code === 'EOF') return '';
    throw e;
  }
}

async function main(argv: string[]): Promise<number> {
  const [arg, ...rest] = argv;
  if (arg === '--help' || arg === '-h') {
    process.stdout.write(`${helpText()}\n`);
    return 0;
  }
  if (arg === '--version') {
    process.stdout.write(`ray-tls ${typeof VERSION === 'string' ? VERSION : 'dev'}\n`);
    return 0;
  }
  // The other commands load on demand: a render never needs their code (docs/design.md §6).
  if (arg === 'certs') return certs(rest);
  if (arg === 'check') return (await import('./check.js')).checkCommand(rest, out);
  if (arg === 'token') return token(rest);
  if (arg === 'helm') return helm(rest);
  if (arg === 'validate' && !rest.length) return emit(run(readStdin(), undefined, true));
  if (arg?.startsWith('-') || rest.length) {
    process.stderr.write(`error: unknown arguments ${argv.join(' ')}\n\n${helpText()}\n`);
    return 2;
  }
  let legacyConfig: string | undefined;
  if (arg !== undefined) {
    try {
      legacyConfig = readFileSync(arg, 'utf8');
    } catch (e) {
      process.stderr.write(`error: cannot read the config file ${arg}: ${(e as Error).message}\n`);
      return 2;
    }
  }
  return emit(run(readStdin(), legacyConfig));
}

function emit(result: RunOutput): number {
  for (const line of result.stderr) process.stderr.write(`${line}\n`);
  writePieces(result.pieces);
  return result.exitCode;
}

/**
 * A large output in writes of about 64 KiB (short-lived strings): one string of all of it, and the buffer a write
 * copies it into, would each be as large as the output (docs/design.md §6).
 */
function writePieces(pieces: readonly string[]): void {
  let batch: string[] = [];
  let size = 0;
  for (const piece of pieces) {
    batch.push(piece);
    size += piece.length;
    if (size >= 1 << 16) {
      process.stdout.write(batch.join(''));
      batch = [];
      size = 0;
    }
  }
  if (size) process.stdout.write(batch.join(''));
}

/** Helm's post-renderer: a stream in, a stream out (cli/helm.ts). */
function helm(argv: string[]): number {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${HELM_HELP}\n`);
    return 0;
  }
  const r = helmCommand(argv, { stdin: readStdin, readFile: (p) => readFileSync(p, 'utf8'), env: process.env });
  process.stderr.write(r.stderr);
  process.stdout.write(r.stdout);
  return r.exitCode;
}

/**
 * A command that writes files (keys, a token) and prints the kubectl commands that make
 * Secrets from them: usage errors exit 2, failures 1; what was written goes to stderr.
 */
function fileCommand<O>(
  argv: string[],
  help: string,
  parse: (argv: string[]) => O | string,
  write: (o: O) => { commands: string[]; wrote: string; next: string },
): number {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${help}\n`);
    return 0;
  }
  const options = parse(argv);
  if (typeof options === 'string') {
    process.stderr.write(`error: ${options}\n\n${help}\n`);
    return 2;
  }
  try {
    const { commands, wrote, next } = write(options);
    process.stderr.write(`${wrote}. Create the Secrets with:\n`);
    process.stdout.write(`${commands.join('\n')}\n`);
    process.stderr.write(`${next}\n`);
    return 0;
  } catch (e) {
    process.stderr.write(`error: ${(e as Error).message}\n`);
    return 1;
  }
}

async function certs(argv: string[]): Promise<number> {
  const { CERTS_HELP, parseCertsArgs, writeCerts } = await import('./certs.js');
  return fileCommand(argv, CERTS_HELP, parseCertsArgs, (o) => ({
    commands: writeCerts(o),
    wrote: `wrote the CA ${o.caName} and ${o.clients.length} client certificate(s) under ${o.out} (keys 0600)`,
    next: 'Then render with the config `certManager: false`, and keep the CA key out of version control.',
  }));
}

async function token(argv: string[]): Promise<number> {
  const { parseTokenArgs, TOKEN_HELP, writeToken } = await import('./token.js');
  return fileCommand(argv, TOKEN_HELP, parseTokenArgs, (o) => ({
    commands: [writeToken(o)],
    wrote: `wrote a Ray auth token to ${o.out} (0600)`,
    next: 'Then render with auth: token, and keep the file out of version control.',
  }));
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(internalErrorText(e, process.env.RAY_TLS_DEBUG === '1'));
    process.exitCode = INTERNAL_ERROR_STATUS;
  },
);
