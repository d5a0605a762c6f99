/** Input the function cannot read at all: reported on stderr, nothing on stdout, exit 1. */
export class InputError extends Error {}
