// Bundles the function into one executable file: fast cold start, no node_modules at run time.

import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
await build({
  entryPoints: ['src/cli/main.ts'],
  outfile: 'dist/ray-tls.js',
  bundle: true,
  platform: 'node',
  target: 'node20',
  // CommonJS: node starts an ES module through its ES loader (and fs/promises, readline and
  // streams with it), which costs more of the cold start than all of ray-tls's own code.
  format: 'cjs',
  minify: process.env.RAY_TLS_NO_MINIFY !== '1',
  legalComments: 'none',
  define: { VERSION: JSON.stringify(version) },
  banner: { js: '#!/usr/bin/env node' },
  logLevel: 'warning',
  // yaml's ES module build: scope-hoisted and tree-shaken, it starts faster than its CommonJS build.
  alias: { yaml: './node_modules/yaml/browser/index.js' },
});
chmodSync('dist/ray-tls.js', 0o755);
// The repository's package.json says "type": "module"; this one makes node read the bundle as CommonJS.
writeFileSync('dist/package.json', '{ "type": "commonjs" }\n');
