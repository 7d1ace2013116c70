#!/usr/bin/env node
/**
 * Builds the two release bundles (run after tsc; `npm run build` does both). They are what the
 * Salt formula installs and what the systemd units run, so an installed agent needs a plain `node`
 * and nothing else (no node_modules): docs/install.md.
 *
 * - dist/router-agent/router-agent.cjs: the router agent as one CommonJS file (docs/decisions.md,
 *   "router-agent bundle": no ESM loader, ~50 fewer module files, lower idle RSS and start time).
 *   The canonical config loader (zod + yaml: YAML files, SSR_RECOVERY_* variables, unknown keys) is
 *   its own file beside it, dist/router-agent/router-agent-config.cjs, required only when the fast
 *   path in router-agent/config.ts defers to it, so the fast start stays and nothing is missing.
 * - dist/conductor-agent/bundle/: the conductor agent with every dependency, as ESM with code
 *   splitting (commands stay lazily loaded), plus the sandbox CLIs the drill starts as processes
 *   (minion-main.js, …) beside it: sandbox/salt/entry.ts finds them next to itself. ssh2's optional
 *   native parts (cpu-features, sshcrypto.node) are left out: ssh2 falls back to its JS/WASM
 *   ciphers and default cipher order.
 */
import { build } from 'esbuild';
import { chmodSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));

/** Route the router agent's lazy import of the canonical loader to the separate file beside it. */
const canonicalConfigLoaderExternal = {
  name: 'canonical-config-loader-external',
  setup(b) {
    b.onResolve({ filter: /\/shared\/config\/load\.js$/ }, (args) => {
      if (args.kind !== 'dynamic-import') return undefined; // type-only imports are erased anyway
      return { path: './router-agent-config.cjs', external: true };
    });
  },
};

/**
 * Node gives `await import(cjsPackage)` the named exports its lexer finds; esbuild's split ESM gives
 * only `default`. For the CommonJS packages the conductor imports lazily by name, re-export them.
 */
const LAZY_CJS_NAMED = { selfsigned: ['generate'] };
const lazyCjsNamedExports = {
  name: 'lazy-cjs-named-exports',
  setup(b) {
    const filter = new RegExp(`^(${Object.keys(LAZY_CJS_NAMED).join('|')})$`);
    b.onResolve({ filter }, (args) =>
      args.kind === 'dynamic-import' ? { path: args.path, namespace: 'cjs-named' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'cjs-named' }, (args) => ({
      contents:
        `import m from ${JSON.stringify(args.path)};\n` +
        LAZY_CJS_NAMED[args.path].map((n) => `export const ${n} = m.${n};\n`).join('') +
        'export default m;\n',
      resolveDir: repo,
      loader: 'js',
    }));
  },
};

const common = {
  absWorkingDir: repo,
  bundle: true,
  platform: 'node',
  target: 'node20',
  logLevel: 'warning',
  metafile: true,
};

async function routerAgent() {
  const result = await build({
    ...common,
    entryPoints: ['router-agent/bin.ts'],
    outfile: 'dist/router-agent/router-agent.cjs',
    format: 'cjs',
    // ws's optional native add-ons: never installed on routers (the agent sets WS_NO_* so ws skips them).
    external: ['bufferutil', 'utf-8-validate'],
    plugins: [canonicalConfigLoaderExternal],
    // Whitespace only (names kept for stack traces): the source text stays resident in V8's heap.
    minifyWhitespace: true,
    sourcemap: 'linked',
  });
  // The fast bundle must not carry the canonical loader's dependencies: that is its point.
  const heavy = Object.keys(result.metafile.inputs).filter((f) => /node_modules\/(zod|yaml)\//.test(f));
  if (heavy.length) fail(`router-agent bundle pulled in ${heavy.length} zod/yaml files (first: ${heavy[0]})`);
  await build({
    ...common,
    entryPoints: ['shared/config/load.ts'],
    outfile: 'dist/router-agent/router-agent-config.cjs',
    format: 'cjs',
    minifyWhitespace: true,
  });
  chmodSync(`${repo}/dist/router-agent/router-agent.cjs`, 0o755);
}

async function conductorAgent() {
  const result = await build({
    ...common,
    entryPoints: {
      'conductor-agent': 'conductor-agent/bin.ts',
      'minion-main': 'sandbox/salt/minion-main.ts',
      'minion-service': 'sandbox/salt/minion-service.ts',
      'salt-call': 'sandbox/salt/salt-call.ts',
      'master-ctl': 'sandbox/salt/master-ctl.ts',
    },
    outdir: 'dist/conductor-agent/bundle',
    format: 'esm',
    splitting: true,
    chunkNames: 'chunk-[hash]',
    external: ['cpu-features', '*.node', 'bufferutil', 'utf-8-validate'],
    plugins: [lazyCjsNamedExports],
    // CommonJS dependencies (ssh2, tar's helpers) call require() and read __dirname at load (ssh2's
    // agent.js): give every ESM output both, as node gives a CommonJS module.
    banner: {
      js: [
        "import { createRequire as __ssrCreateRequire } from 'node:module';",
        "import { fileURLToPath as __ssrFileURLToPath } from 'node:url';",
        "import { dirname as __ssrDirname } from 'node:path';",
        'const require = __ssrCreateRequire(import.meta.url);',
        'const __filename = __ssrFileURLToPath(import.meta.url);',
        'const __dirname = __ssrDirname(__filename);',
      ].join('\n'),
    },
    sourcemap: 'linked',
  });
  const bad = Object.keys(result.metafile.inputs).filter((f) => /^test\//.test(f));
  if (bad.length) fail(`conductor-agent bundle pulled in test code: ${bad.join(', ')}`);
  chmodSync(`${repo}/dist/conductor-agent/bundle/conductor-agent.js`, 0o755);
}

function fail(message) {
  console.error(message);
  process.exit(1);
}

await Promise.all([routerAgent(), conductorAgent()]);
