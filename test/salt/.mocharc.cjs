'use strict';
// mocha configuration for `npm run test:salt` (the real-Salt acceptance suite, test/salt/run.ts):
// same TypeScript loading and `N passed, N failed` reporter as `npm test`, generous timeouts (real
// daemons: a minion takes seconds to authenticate and ~6 s to stop).
module.exports = {
  'node-option': ['import=tsx'],
  extension: ['ts'],
  spec: ['test/salt/**/*.test.ts'],
  require: ['test/setup/hooks.ts'],
  reporter: 'test/setup/reporter.cjs',
  timeout: 300000,
  slow: 30000,
  exit: true,
};
