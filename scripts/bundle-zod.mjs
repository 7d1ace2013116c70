#!/usr/bin/env node
/**
 * Replaces dist/shared/config/zod.js (tsc's one-line re-export of zod) with zod bundled into one
 * ESM file. Why (docs/decisions.md, "CLI start-up and configuration sources"): importing zod
 * through node's ESM loader resolves and links ~70 files; one file halves its CPU cost, which is
 * most of what a conductor-agent command pays before it does anything. Run after tsc.
 */
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));

const result = await build({
  absWorkingDir: repo,
  stdin: { contents: "export { z } from 'zod';", resolveDir: repo, loader: 'js' },
  outfile: 'dist/shared/config/zod.js',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // Whitespace only (names kept for stack traces and zod's own error messages).
  minifyWhitespace: true,
  metafile: true,
  logLevel: 'warning',
  allowOverwrite: true,
});
const inputs = Object.keys(result.metafile.inputs);
if (!inputs.some((f) => f.includes('node_modules/zod/'))) {
  console.error('bundle-zod: zod was not bundled');
  process.exit(1);
}
