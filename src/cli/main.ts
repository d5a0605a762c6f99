// The only place with I/O: argv, stdin, stdout, stderr and the exit code.
import { readFileSync } from 'node:fs';
import { CERTS_HELP, parseCertsArgs, writeCerts } from './certs.js';
import { HELP } from './help.js';
import { run, type RunOutput } from '../function/run.js';

declare const VERSION: string;

function readStdin(): string {
  try {
    return readFileSync(0, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EAGAIN' || (e as NodeJS.ErrnoException).code === 'EOF') return '';
    throw e;
  }
}

function main(argv: string[]): number {
  const [arg, ...rest] = argv;
  if (arg === '--help' || arg === '-h') {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  if (arg === '--version') {
    process.stdout.write(`ray-tls ${typeof VERSION === 'string' ? VERSION : 'dev'}\n`);
    return 0;
  }
  if (arg === 'certs') return certs(rest);
  if (arg === 'validate' && !rest.length) return emit(run(readStdin(), undefined, true));
  if (arg?.startsWith('-') || rest.length) {
    process.stderr.write(`error: unknown arguments ${argv.join(' ')}\n\n${HELP}\n`);
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

function emit(out: RunOutput): number {
  for (const line of out.stderr) process.stderr.write(line + '\n');
  process.stdout.write(out.stdout);
  return out.exitCode;
}

function certs(argv: string[]): number {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(CERTS_HELP + '\n');
    return 0;
  }
  const options = parseCertsArgs(argv);
  if (typeof options === 'string') {
    process.stderr.write(`error: ${options}\n\n${CERTS_HELP}\n`);
    return 2;
  }
  try {
    const commands = writeCerts(options);
    process.stderr.write(`wrote the CA and ${options.clients.length} client certificate(s) under ${options.out} (keys 0600). Create the Secrets with:\n`);
    process.stdout.write(commands.join('\n') + '\n');
    process.stderr.write('Then render with the config `certManager: false`, and keep the CA key out of version control.\n');
    return 0;
  } catch (e) {
    process.stderr.write(`error: ${(e as Error).message}\n`);
    return 1;
  }
}

process.exitCode = main(process.argv.slice(2));
