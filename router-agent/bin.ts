#!/usr/bin/env node
// router-agent entry point: the only place that exits the process. `--version` answers without
// loading the CLI (install checks call it; start time is a benchmark target).
import { PRODUCT_VERSION } from '../shared/version.js';

const argv = process.argv.slice(2);
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
  process.stdout.write(`${PRODUCT_VERSION}\n`);
} else {
  import('./cli/main.js')
    .then(({ main }) => main(argv))
    .then(
      (code) => {
        process.exitCode = code;
      },
      (err: unknown) => {
        process.stderr.write(`internal error: ${err instanceof Error ? err.stack : String(err)}\n`);
        process.exitCode = 70;
      },
    );
}
