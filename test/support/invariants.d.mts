// Types for invariants.mjs (plain JS so that scripts/corpus.mjs can use it without a build).
export function checkInvariants(input: string, output: string, secondOutput: string, exitCode: number): string[];
export function runsRayStart(container: unknown): boolean;
