// Bundles the function into one executable file: fast cold start, no node_modules at run time.

import { chmodSync, readFileSync } from 'node:fs';
import { build } from 'esbuild';

// src/tls/models.ts re-exports the cert-manager model classes; in the bundle they load on
// first use (esbuild wraps required modules in lazy initialisers), which keeps their
// schema validators out of the cold start of a run that emits nothing. (The package's
// exports give these subpaths a `require` condition: its CommonJS build.)
const lazyModels = {
  name: 'lazy-models',
  setup(b) {
    b.onLoad({ filter: /src[\\/]tls[\\/]models\.ts$/ }, () => ({
      loader: 'js',
      resolveDir: 'src/tls',
      contents: `
        let m;
        const load = () => (m ??= {
          Certificate: require('@kubernetes-models/cert-manager/cert-manager.io/v1/Certificate').Certificate,
          Issuer: require('@kubernetes-models/cert-manager/cert-manager.io/v1/Issuer').Issuer,
        });
        export class Certificate { constructor(data) { return new (load().Certificate)(data); } }
        export class Issuer { constructor(data) { return new (load().Issuer)(data); } }`,
    }));
  },
};

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
await build({
  entryPoints: ['src/cli/main.ts'],
  outfile: 'dist/ray-tls.js',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  minify: process.env.RAY_TLS_NO_MINIFY !== '1',
  legalComments: 'none',
  define: { VERSION: JSON.stringify(version) },
  // Some dependencies call require(); give the ESM bundle one.
  banner: {
    js: "#!/usr/bin/env node\nimport { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
  },
  logLevel: 'warning',
  plugins: [lazyModels],
  // yaml's ES module build: scope-hoisted and tree-shaken, it starts faster than its CommonJS build.
  alias: { yaml: './node_modules/yaml/browser/index.js' },
});
chmodSync('dist/ray-tls.js', 0o755);
