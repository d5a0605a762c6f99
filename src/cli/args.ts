// Command-line flags for the certs, token and check commands: Node's own util.parseArgs,
// with its errors said the way the rest of ray-tls says them.
import { parseArgs } from 'node:util';

export type FlagSpec = Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }>;
type Values = Record<string, string | boolean | string[] | undefined>;

/** The flags' values and the positional arguments, or a one-line usage error. */
export function parseFlags(
  argv: string[],
  flags: FlagSpec,
  positionals = false,
): { values: Values; positionals: string[] } | string {
  try {
    const { values, positionals: rest } = parseArgs({
      args: argv,
      options: flags,
      strict: true,
      allowPositionals: positionals,
    });
    return { values: values as Values, positionals: rest };
  } catch (e) {
    const error = e as Error & { code?: string };
    const flag = /'(-[^' ]+)/.exec(error.message)?.[1] ?? '';
    if (error.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return `unknown option ${flag}`;
    if (error.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') return `${flag} needs a value`;
    if (error.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL')
      return `unexpected argument ${/'([^']*)'/.exec(error.message)?.[1]}`;
    return error.message;
  }
}

/** A whole number of at least `min`, or the message that says it is not. */
export function wholeNumber(flag: string, text: string, min: number, what: string): number | string {
  return /^\d+$/.test(text) && Number(text) >= min
    ? Number(text)
    : `${flag} must be a whole number of ${what}, got ${text}`;
}

/** A word for a POSIX shell: as is when it holds no special character, else single-quoted. */
export function shellQuote(word: string): string {
  return /^[-A-Za-z0-9_./=:@%+,]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/** `-n NS` for a printed kubectl command, or nothing. */
export const namespaceFlag = (ns: string | undefined) => (ns ? ` -n ${shellQuote(ns)}` : '');

/** --namespace must be a namespace name (a DNS-1123 label), so it can only be that in a printed command. */
export function namespaceError(ns: string | undefined): string | undefined {
  if (ns === undefined || (ns.length <= 63 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(ns))) return undefined;
  return `--namespace ${JSON.stringify(ns)} is not a namespace name (lowercase letters, digits and '-', at most 63)`;
}
