// Does a container run `ray start`, and where? The one answer every layer uses: discovery (is
// the pod a Ray node), the init container's image (which container is Ray's), pod-dns (where
// to add the node address). Exec form is read as argv; `sh -c SCRIPT` is read as shell words,
// so `echo "ray start"` or a quoted mention is no start, and `ray start` after `&&` is one.
import type { Json } from '../yaml/json.js';

export type RayStart =
  /** `ray start` in argv: argv[index] is the `start`. */
  | { form: 'exec'; argv: string[]; index: number }
  /** A shell script argv[script]; `ends` are the offsets just after each `start` word in it. */
  | { form: 'shell'; argv: string[]; script: number; ends: number[] };

const SHELLS = /^(sh|bash|dash|ash|zsh|ksh)$/;
/** Words that may stand before the command itself: shell keywords and runners that exec their argv. */
export const PREFIXES = new Set([
  'exec',
  'nohup',
  'time',
  'command',
  'then',
  'do',
  'else',
  'elif',
  'if',
  'while',
  'until',
  '!',
  '{',
]);
/** Runners that take options, then the command (`tini -g -- ray start`, `env -i A=1 ray start`). */
const RUNNERS = new Set(['env', 'tini', 'dumb-init']);
/** Runner options whose value is the next word (`env -u NAME ray start`, `tini -e 143 -- ...`). */
const WITH_VALUE = new Set(['-u', '--unset', '-C', '--chdir', '-p', '-e', '-r', '--rewrite']);
export const ASSIGNMENT = /^[A-Za-z_]\w*=/;
/** A command word without its directory (`/usr/bin/env` is `env`). */
export const base = (word: string) => word.slice(word.lastIndexOf('/') + 1);

interface Word {
  text: string;
  end: number;
}

/** The argv a container runs: its command, then its args (only string lists count). */
export function argvOf(command: Json | undefined, args: Json | undefined): string[] {
  const list = (v: Json | undefined) => (Array.isArray(v) ? v.map((x) => (typeof x === 'string' ? x : String(x))) : []);
  return [...list(command), ...list(args)];
}

/** Where a container's command and args run `ray start`, or undefined when they do not. */
export function findRayStart(command: Json | undefined, args: Json | undefined): RayStart | undefined {
  const argv = argvOf(command, args);
  // Most containers never say both words: skip reading them as shell.
  if (!argv.some((a) => a.includes('start')) || !argv.some((a) => a.includes('ray'))) return undefined;
  return inArgv(argv);
}

function inArgv(argv: string[]): RayStart | undefined {
  const script = shellScript(argv);
  if (script === undefined) {
    const index = startIndex(argv.map((text) => ({ text, end: 0 })));
    return index === undefined ? undefined : { form: 'exec', argv, index };
  }
  const ends: number[] = [];
  for (const words of shellCommands(argv[script])) {
    const index = startIndex(words);
    if (index !== undefined) ends.push(words[index].end);
    // `exec "$@"` runs the arguments after the script ($0 is the one right after it).
    else if (commandWord(words)?.text === '$@') {
      const inner = inArgv(argv.slice(script + 2));
      if (inner) return inner.form === 'exec' ? { ...inner, argv, index: inner.index + script + 2 } : inner;
    }
  }
  return ends.length ? { form: 'shell', argv, script, ends } : undefined;
}

/** The index of a `sh -c SCRIPT` line's script (also `bash -lc -- SCRIPT`); undefined for other argv. */
export function shellScript(argv: string[]): number | undefined {
  if (!SHELLS.test(base(argv[0] ?? ''))) return undefined;
  for (let i = 1; i < argv.length && argv[i].startsWith('-'); i++) {
    if (!/^-[a-zA-Z]*c[a-zA-Z]*$/.test(argv[i])) continue;
    const at = argv[i + 1] === '--' ? i + 2 : i + 1;
    return at < argv.length ? at : undefined;
  }
  return undefined;
}

function commandWord(words: Word[]): Word | undefined {
  return words[commandIndex(words)];
}

function commandIndex(words: Word[]): number {
  let i = 0;
  while (i < words.length) {
    const w = words[i].text;
    if (ASSIGNMENT.test(w) || PREFIXES.has(w)) i++;
    else if (RUNNERS.has(base(w))) {
      i++;
      while (i < words.length && (words[i].text.startsWith('-') || ASSIGNMENT.test(words[i].text))) {
        const option = words[i++].text;
        if (option === '--') break;
        if (WITH_VALUE.has(option)) i++;
      }
    } else break;
  }
  return i;
}

/** The index of the `start` of a `ray start` command, if the words are one. */
function startIndex(words: Word[]): number | undefined {
  const i = commandIndex(words);
  return base(words[i]?.text ?? '') === 'ray' && words[i + 1]?.text === 'start' ? i + 1 : undefined;
}

const SEPARATOR = /[\n;&|()`]/;
const BLANK = /[ \t\r]/;

/**
 * The simple commands of a shell script as words (quotes removed), each with its end offset.
 * Enough of sh to find command words: quotes, escapes, comments, separators, `$(...)`.
 */
export function shellCommands(script: string): Word[][] {
  const commands: Word[][] = [];
  let words: Word[] = [];
  let i = 0;
  const flush = () => {
    if (words.length) commands.push(words);
    words = [];
  };
  while (i < script.length) {
    const c = script[i];
    if (BLANK.test(c) || (c === '\\' && script[i + 1] === '\n')) i += c === '\\' ? 2 : 1;
    else if (SEPARATOR.test(c)) {
      flush();
      i++;
    } else if (c === '#') while (i < script.length && script[i] !== '\n') i++;
    else {
      const word = readWord(script, i);
      words.push(word);
      i = word.end;
    }
  }
  flush();
  return commands;
}

/** The shell word that starts at `i`, quotes and escapes removed, `$(...)` kept; `end` is after it. */
function readWord(script: string, i: number): Word {
  let text = '';
  while (i < script.length && !BLANK.test(script[i]) && !SEPARATOR.test(script[i])) {
    const ch = script[i];
    if (ch === "'") {
      const close = script.indexOf("'", i + 1);
      const stop = close === -1 ? script.length : close;
      text += script.slice(i + 1, stop);
      i = stop + 1;
    } else if (ch === '"') {
      for (i++; i < script.length && script[i] !== '"'; i++) {
        if (script[i] === '\\' && i + 1 < script.length) i++;
        text += script[i];
      }
      i++;
    } else if (ch === '\\') {
      if (script[i + 1] !== '\n') text += script[i + 1] ?? '';
      i += 2;
    } else if (ch === '$' && script[i + 1] === '(') {
      const close = closingParen(script, i + 1);
      text += script.slice(i, close + 1);
      i = close + 1;
    } else {
      text += ch;
      i++;
    }
  }
  return { text, end: Math.min(i, script.length) };
}

function closingParen(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === '(') depth++;
    else if (text[i] === ')' && --depth === 0) return i;
  }
  return text.length - 1;
}

export const NODE_IP_FLAG = '--node-ip-address';

/** The values a container's `ray start` gives --node-ip-address, as written (`$MY_POD_IP`, `$(hostname -i)`). */
export function nodeIpAddresses(command: Json | undefined, args: Json | undefined): string[] {
  const start = findRayStart(command, args);
  if (!start) return [];
  const lists =
    start.form === 'exec'
      ? [start.argv]
      : shellCommands(start.argv[start.script]).map((words) => words.map((w) => w.text));
  const out: string[] = [];
  for (const words of lists) {
    words.forEach((w, i) => {
      if (w.startsWith(`${NODE_IP_FLAG}=`)) out.push(w.slice(NODE_IP_FLAG.length + 1));
      else if (w === NODE_IP_FLAG && words[i + 1] !== undefined) out.push(words[i + 1]);
    });
  }
  return out;
}

/** The names of a container's env vars that hold the pod IP (downward API status.podIP). */
export const podIpVars = (env: Json | undefined): Set<string> =>
  new Set(
    (Array.isArray(env) ? env : []).flatMap((e) =>
      e &&
      typeof e === 'object' &&
      !Array.isArray(e) &&
      typeof e.name === 'string' &&
      JSON.stringify(e.valueFrom ?? null).includes('"fieldPath":"status.podIP"')
        ? [e.name]
        : [],
    ),
  );

const VAR_REF = /^\$(?:\{(\w+)\}|\((\w+)\)|(\w+))$/;

/** Whether an address as written is the pod IP: a pod-IP env var (`$V`, `${V}`, `$(V)`) or `$(hostname -i)`. */
export function isPodIp(value: string, vars: Set<string>): boolean {
  const m = VAR_REF.exec(value.trim());
  if (m) return vars.has(m[1] ?? m[2] ?? m[3]);
  return /^\$\(hostname -i\)$/.test(value.trim());
}
