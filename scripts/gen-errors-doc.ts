// Regenerates docs/errors.md from the one error-code table (shared/errors.ts). Run after adding a code:
//   npm run docs:errors
import { writeFileSync } from 'node:fs';
import { ErrorCodes } from '../shared/errors.js';

let s =
  '# Error codes\n\nEvery failure carries one stable `code` (tests assert it; scripts may match on it). The exit code\n' +
  'follows from the code (see README.md, "Exit codes"). Codes are never renamed or reused.\n' +
  'This file is generated from `shared/errors.ts` by `npm run docs:errors`.\n\n| code | exit | meaning |\n|---|---|---|\n';
for (const [code, spec] of Object.entries(ErrorCodes)) s += `| \`${code}\` | ${spec.exit} | ${spec.meaning} |\n`;
writeFileSync(new URL('../docs/errors.md', import.meta.url), s);
