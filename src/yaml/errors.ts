/** Input the function cannot read at all: reported on stderr, nothing on stdout, exit 1. */
export class InputError extends Error {}

/** A YAML parser's error without its excerpt of the input, which may show a secret. */
export const yamlProblem = (e: Error): string => e.message.split('\n')[0].replace(/:$/, '');
