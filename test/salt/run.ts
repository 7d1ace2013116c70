/**
 * `npm run test:salt`: the acceptance suite against real Salt. Says exactly what is missing (and
 * exits 2) when Salt cannot be found; otherwise runs mocha over test/salt/**\/*.test.ts with
 * test/salt/.mocharc.cjs, passing any extra arguments (e.g. a single spec file) through.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { saltAvailable } from './rig.js';

const found = saltAvailable();
if (!found.ok) {
  process.stderr.write(`test:salt: ${found.why}\n`);
  process.stdout.write('\n0 passed, 1 failed\n');
  process.exit(2);
}
process.stderr.write(`test:salt: real Salt from ${found.how}\n`);
const mocha = createRequire(import.meta.url).resolve('mocha/bin/mocha.js');
const extra = process.argv.slice(2);
const child = spawn(process.execPath, [mocha, '--config', 'test/salt/.mocharc.cjs', ...extra], { stdio: 'inherit' });
child.once('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
