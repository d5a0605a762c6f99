// The tests that drive real Ray (root, `ip netns`) and podman never skip quietly. When this
// machine cannot run them, the test file fails with the reason, unless the user opted out
// knowingly with RAY_TLS_SKIP_REAL=1 (README, Development); .ci/run unsets it, so CI never skips.
import { it } from 'vitest';

export const SKIP_ENV = 'RAY_TLS_SKIP_REAL';

export type RealToolsDecision =
  | { action: 'run' }
  | { action: 'skip'; message: string }
  | { action: 'fail'; message: string };

/**
 * What to do with the tests of `what` given why they cannot run here (undefined: they can):
 * run them, fail loudly, or skip them loudly when RAY_TLS_SKIP_REAL=1.
 */
export function realToolsDecision(
  reason: string | undefined,
  env: Record<string, string | undefined>,
  what = 'real-Ray tests',
  fix = 'run as root with ip netns',
): RealToolsDecision {
  if (reason === undefined) return { action: 'run' };
  if (env[SKIP_ENV] === '1')
    return {
      action: 'skip',
      message:
        `SKIPPED the ${what} because ${SKIP_ENV}=1: ${reason}. They prove what the rest cannot; run them ` +
        `before you trust a change.`,
    };
  return {
    action: 'fail',
    message: `cannot run the ${what}: ${reason}; ${fix}, or set ${SKIP_ENV}=1 to skip them knowingly`,
  };
}

const banner = (text: string) => `\n${'!'.repeat(100)}\n!! ${text}\n${'!'.repeat(100)}\n`;

/**
 * Call at the top level of a test file; returns whether its real-tool tests may run
 * (`describe.runIf(requireRealTools(...))`). When they cannot run and the user did not opt
 * out, it registers a failing test that says why, so the file and `npm test` fail.
 */
export function requireRealTools(what: string, reason: string | undefined, fix?: string): boolean {
  const d = realToolsDecision(reason, process.env, what, fix);
  if (d.action === 'run') return true;
  if (d.action === 'skip') {
    console.warn(banner(d.message));
    return false;
  }
  console.error(banner(d.message));
  it(`can run the ${what} on this machine`, () => {
    throw new Error(d.message);
  });
  return false;
}
