// Any error that reaches the CLI is a bug in ray-tls, not in the input (bad input gets a result
// or an InputError): one line that says so; the stack trace only when asked for.

import { redactText } from '../krm/redact.js';

/** Exit status of an internal error (EX_SOFTWARE). */
export const INTERNAL_ERROR_STATUS = 70;

export function internalErrorText(e: unknown, debug: boolean): string {
  const message = e instanceof Error ? e.message : String(e);
  // A bug may quote the input: its secrets are redacted here too.
  const first = redactText(message.split('\n')[0].slice(0, 300));
  const line =
    `error: internal error in ray-tls (a bug, not your input): ${first}; please report it with the input ` +
    '(RAY_TLS_DEBUG=1 prints the stack trace)\n';
  return debug && e instanceof Error && e.stack ? `${line}${e.stack}\n` : line;
}
