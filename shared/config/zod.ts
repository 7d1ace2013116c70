/**
 * The one import of zod for the configuration schema. In `dist/` this file is replaced by a single
 * bundled ESM file (scripts/bundle-zod.mjs, run by `npm run build`): node's ESM loader resolving
 * zod's ~70 files cost about as much CPU as parsing them, and every command that loads config pays
 * it at start-up (issue 10, "CLI start-up counts"). Tests and tsx runs use the package directly.
 */
export { z } from 'zod';
