// The decision behind requireRealTools: real-Ray and podman tests run, fail loudly, or skip
// loudly only when the user opted out with RAY_TLS_SKIP_REAL=1.
import { describe, expect, it } from 'vitest';
import { realToolsDecision } from '../support/realTools.js';

describe('realToolsDecision', () => {
  it('runs when nothing is missing, whatever the environment says', () => {
    expect(realToolsDecision(undefined, {})).toEqual({ action: 'run' });
    expect(realToolsDecision(undefined, { RAY_TLS_SKIP_REAL: '1' })).toEqual({ action: 'run' });
  });

  it('fails, with the reason and both ways out, when the tests cannot run and nobody opted out', () => {
    const d = realToolsDecision('real-Ray pod tests need root (ip netns, mount)', {});
    expect(d).toEqual({
      action: 'fail',
      message:
        'cannot run the real-Ray tests: real-Ray pod tests need root (ip netns, mount); run as root with ip netns, ' +
        'or set RAY_TLS_SKIP_REAL=1 to skip them knowingly',
    });
  });

  it.each([[''], ['0'], ['true'], ['yes'], [' 1']])('does not take RAY_TLS_SKIP_REAL=%j as an opt-out', (value) => {
    expect(realToolsDecision('no podman', { RAY_TLS_SKIP_REAL: value }).action).toBe('fail');
  });

  it('skips, saying so and why, only with RAY_TLS_SKIP_REAL=1', () => {
    const d = realToolsDecision(
      'podman is not installed',
      { RAY_TLS_SKIP_REAL: '1' },
      'podman tests',
      'install podman',
    );
    expect(d.action).toBe('skip');
    expect(d).toHaveProperty(
      'message',
      expect.stringContaining('SKIPPED the podman tests because RAY_TLS_SKIP_REAL=1: podman is not installed'),
    );
  });

  it('names the tests and the fix it is given', () => {
    const d = realToolsDecision('podman info failed', {}, 'podman tests', 'run npm test as root (it installs podman)');
    expect(d).toEqual({
      action: 'fail',
      message:
        'cannot run the podman tests: podman info failed; run npm test as root (it installs podman), or set ' +
        'RAY_TLS_SKIP_REAL=1 to skip them knowingly',
    });
  });
});
