'use strict';
// One mocha configuration for `npm test`: unit, loopback integration and end-to-end specs, TypeScript
// loaded through tsx. The reporter prints mocha's spec output and then the plain `N passed, N failed`
// line that CI reads.
module.exports = {
  'node-option': ['import=tsx'],
  extension: ['ts'],
  require: ['test/setup/hooks.ts'],
  reporter: 'test/setup/reporter.cjs',
  timeout: 20000,
  slow: 2000,
  exit: true,
};
