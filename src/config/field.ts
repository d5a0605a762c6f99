// One config field, declared once: its type (what `read` returns), its default, how it is read
// and what its errors say, its ConfigMap form when that is not the plain string, and its --help.
import type { Json } from '../yaml/json.js';
import type { Raw, Reader } from './reader.js';

/** The values of the fields declared before this one, for rules that span fields. */
export type Earlier = Readonly<Record<string, unknown>>;

export interface Field<T> {
  readonly default: T;
  /** The field's value in a spec (the typed form, or a ConfigMap's data made nested); problems go to `r`. */
  read(r: Reader, spec: Raw, earlier: Earlier): T;
  /** A ConfigMap's flat string for this key as the typed form writes it, or what is wrong with it. */
  fromData?(value: string): { value: Json } | { problem: string };
  /** --help: the text after the field's name, given its default; later lines indented to the text column. */
  help?(defaults: T): string;
  /** Where that text goes: its own line (the default), after the line before, or a line below it. */
  helpLayout?: 'sameLine' | 'below';
}

/** Declares a field (the helper keeps its value type). */
export const field = <T>(f: Field<T>): Field<T> => f;

/** --help lines after the first, indented to the text column. */
export const helpLines = (...lines: string[]): string => lines.join(`\n${' '.repeat(18)}`);
