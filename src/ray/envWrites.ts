// Does a container's command line change the TLS environment Ray reads? ray-tls sets
// RAY_USE_TLS and RAY_TLS_* in the pod spec; a command may only read them. Read with the
// shell-word reader of rayStart.ts, nested scripts (`sh -c '...'`, `bash -lc`, eval, a
// `python -c` line) word by word, so quoting (`RAY_US""E_TLS`) hides nothing. Any other
// mention of such a name is a write (`X=0 exec`, export, unset, declare, env -u, read,
// ${X:=0}...); so is running Ray with a cleared environment (env -i, exec -c, su, sudo).
import { ASSIGNMENT, base, PREFIXES, shellCommands } from './rayStart.js';

const NAME = '(?:RAY_USE_TLS|RAY_TLS_[A-Za-z0-9_]*)';
/** A TLS variable's name, not inside a longer name. */
const MENTION = new RegExp(`(?<![A-Za-z0-9_])${NAME}(?![A-Za-z0-9_])`);
/** Reads: $X, ${X}, ${#X}, ${X:-d}, ${X+a}, ${X:?m}; and $(X), the kubelet's expansion in command and args. */
const READ = new RegExp(String.raw`\$(?:${NAME}(?![A-Za-z0-9_])|\{#?${NAME}(?:\}|:?[-+?][^}]*\})|\(${NAME}\))`, 'g');
/** A name cut short, to be completed at run time (`RAY_US$X`, `'RAY_'+'USE_TLS'`). */
const PARTIAL = /(?<![A-Za-z0-9_])RAY_[A-Za-z0-9_]*(?![A-Za-z0-9_])/g;
const TLS_NAMES = ['RAY_USE_TLS', 'RAY_TLS_'];
const NESTED = /[\s;&|`()]/;
const MAX_DEPTH = 4;

/** Runners that start their command with a cleared or login environment, and the options that make them. */
const CLEARS = new Map<string, (option: string) => boolean>([
  ['env', (o) => o === '-' || o === '--ignore-environment' || (/^-[a-zA-Z0-9]*i/.test(o) && !o.startsWith('-u'))],
  ['exec', (o) => /^-[a-z]*c/.test(o)],
  ['setpriv', (o) => o === '--reset-env'],
  ['su', () => true],
  ['sudo', () => true],
  ['runuser', () => true],
  ['doas', () => true],
]);

/** Escapes that spell characters ($'\x52', printf '\122', echo -e '\u0052'): read as the characters they make. */
const ESCAPE = /\\(?:x([0-9a-fA-F]{1,2})|u([0-9a-fA-F]{1,4})|U([0-9a-fA-F]{1,8})|0?([0-7]{1,3}))/g;
const spelled = (word: string) =>
  word.replace(ESCAPE, (_m, x, u, U, o) => {
    const code = (x ?? u ?? U) ? Number.parseInt(x ?? u ?? U, 16) : Number.parseInt(o, 8);
    return code > 0 && code < 0x110000 ? String.fromCodePoint(code) : '';
  });

/** What in an argv writes a TLS variable or clears the environment, in words for a message; undefined if nothing. */
export function tlsEnvWrite(argv: string[], depth = 0): string | undefined {
  const cleared = clearsEnvironment(argv);
  if (cleared) return cleared;
  for (const word of argv) {
    const rest = spelled(word).replace(READ, '');
    const named = MENTION.exec(rest);
    if (named) return `${named[0]} in ${JSON.stringify(word)}`;
    const partial = [...rest.matchAll(PARTIAL)].find((m) => TLS_NAMES.some((n) => n !== m[0] && n.startsWith(m[0])));
    if (partial) return `a name built at run time from ${partial[0]} in ${JSON.stringify(word)}`;
    if (depth < MAX_DEPTH && NESTED.test(word)) {
      for (const command of shellCommands(word)) {
        const inner = tlsEnvWrite(
          command.map((w) => w.text),
          depth + 1,
        );
        if (inner) return inner;
      }
    }
  }
  return undefined;
}

/** `env -i ray start`, `exec -c ray start`, `sudo ray start`: Ray would start without the pod's env. */
function clearsEnvironment(words: string[]): string | undefined {
  for (let i = 0; i < words.length; i++) {
    const word = base(words[i]);
    const clears = CLEARS.get(word);
    if (clears?.('')) return `${words[i]} (Ray would start without the pod's environment)`;
    for (let j = i + 1; clears && j < words.length && words[j].startsWith('-'); j++)
      if (clears(words[j])) return `${words[i]} ${words[j]} (Ray would start without the pod's environment)`;
    if (!(clears !== undefined || PREFIXES.has(word) || ASSIGNMENT.test(words[i]) || words[i].startsWith('-')))
      return undefined;
  }
  return undefined;
}
