// The only place with I/O: argv, stdin, stdout, stderr and the exit code.
import { readFileSync } from 'node:fs';
import { HELP } from './help.js';
import { run } from './run.js';

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
  const out = run(readStdin(), legacyConfig);
  for (const line of out.stderr) process.stderr.write(line + '\n');
  process.stdout.write(out.stdout);
  return out.exitCode;
}

process.exitCode = main(process.argv.slice(2));
