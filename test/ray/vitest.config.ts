// Config for the real-Ray tests: npx vitest run --config test/ray/vitest.config.ts
// They start real processes in network namespaces, so: one file at a time, in a forked
// process (process 'exit' handlers tear pods down), and long timeouts.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    include: ['test/ray/**/*.test.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 900_000, // beforeAll may install the Ray venv (scripts/ensure-ray.sh)
    teardownTimeout: 60_000,
  },
});
