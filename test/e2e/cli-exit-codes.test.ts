import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const bin = (name: string): string => fileURLToPath(new URL(`../../dist/${name}/bin.js`, import.meta.url));
const run = (name: string, args: string[]) =>
  spawnSync(process.execPath, [bin(name), ...args], {
    encoding: 'utf8',
    env: { ...process.env, SSR_RECOVERY_LOG_LEVEL: undefined },
  });

describe('the real bins: help, usage and exit codes', () => {
  for (const name of ['conductor-agent', 'router-agent']) {
    it(`${name} --help lists its commands and exits 0`, () => {
      const r = run(name, ['--help']);
      assert.equal(r.status, 0);
      assert.match(r.stdout, /Usage: /);
      assert.match(r.stdout, /Exit codes:/);
    });
    it(`${name} exits 2 on an unknown option`, () => {
      const r = run(name, ['--no-such-option']);
      assert.equal(r.status, 2);
      assert.match(r.stderr, /unknown option/);
    });
  }

  it('conductor-agent prints a JSON error document with --json and exits 3 on bad config', () => {
    const r = spawnSync(
      process.execPath,
      [bin('conductor-agent'), 'fleet', '--json', '--config', '/nonexistent/ssr.yaml'],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 3);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.ok, false);
    assert.equal(doc.error.code, 'CONFIG_UNREADABLE');
  });
});
