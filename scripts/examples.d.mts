// Types for scripts/examples.mjs, for the test that runs its packages.
export const ROOT: string;
export const EXAMPLES: string;
export const CASES: string[];
export function packageFiles(name: string): Map<string, string>;
export function renderDiffs(pkgDir: string, renders?: number): string[];
