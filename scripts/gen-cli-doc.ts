// Regenerates docs/cli.md from both bins' commander programs:  npm run docs:cli
import { writeFileSync } from 'node:fs';
import { renderCliDoc } from './cli-doc.js';

writeFileSync(new URL('../docs/cli.md', import.meta.url), renderCliDoc());
