#!/usr/bin/env node
/**
 * Builds dist/router-agent/router-agent.cjs: the router agent as one CommonJS file (run by the
 * systemd unit, the drill and the benchmark). Why (docs/decisions.md, "router-agent bundle"): the
 * tsc tree starts the daemon through node's ESM loader, resolves ~50 files and parses ws and
 * commander with the CommonJS export lexer (hot enough to wake V8's optimising compiler); each of
 * those keeps node's code pages and heap resident. One CommonJS file loads none of that.
 *
 * The canonical config loader (zod + yaml, used only for YAML files and SSR_RECOVERY_* variables)
 * stays out of the bundle: the import in router-agent/config.ts resolves at run time to the tsc
 * tree beside the bundle (dist/shared/config/load.js), which is installed with it.
 *
 * Run after tsc (`npm run build` does both). esbuild comes with tsx today; the lead adds it as an
 * explicit devDependency.
 */
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));

/** Keep the lazily imported canonical config loader out of the bundle (loaded from dist/shared/ at run time). */
const canonicalConfigLoaderExternal = {
  name: 'canonical-config-loader-external',
  setup(b) {
    b.onResolve({ filter: /\/shared\/config\/load\.js$/ }, (args) => {
      if (args.kind !== 'dynamic-import') return undefined; // type-only imports are erased anyway
      return { path: '../shared/config/load.js', external: true };
    });
  },
};

const result = await build({
  absWorkingDir: repo,
  entryPoints: ['router-agent/bin.ts'],
  outfile: 'dist/router-agent/router-agent.cjs',
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // ws's optional native add-ons: never installed on routers (the agent sets WS_NO_* so ws skips them).
  external: ['bufferutil', 'utf-8-validate'],
  plugins: [canonicalConfigLoaderExternal],
  // Whitespace only (names kept for stack traces): the source text stays resident in V8's heap.
  minifyWhitespace: true,
  sourcemap: 'linked',
  metafile: true,
  logLevel: 'warning',
});

// The bundle must not carry the canonical loader's dependencies: that is its point.
const inputs = Object.keys(result.metafile.inputs);
const heavy = inputs.filter((f) => /node_modules\/(zod|yaml)\//.test(f));
if (heavy.length) {
  console.error(`router-agent bundle pulled in ${heavy.length} zod/yaml files (first: ${heavy[0]}); keep them behind the lazy canonical loader`);
  process.exit(1);
}
