import assert from 'node:assert/strict';
import { main } from '../../conductor-agent/cli/main.js';
import { memoryIo } from '../helpers/cli.js';
import { makeTmpDir } from '../helpers/tmpdir.js';

describe('conductor-agent migrate: the command-line contract orch/migrate.sls relies on', () => {
  let root: string;
  let cleanup: () => Promise<void>;
  before(async () => {
    ({ dir: root, cleanup } = await makeTmpDir());
  });
  after(async () => {
    await cleanup();
  });

  it('--help names exactly the contract options and the exit codes', async () => {
    const io = memoryIo({});
    assert.equal(await main(['migrate', '--help'], io), 0);
    for (const o of [
      '--to <addr[,addr2]>',
      '--from <addr[,addr2]>',
      '--routers <glob>',
      '--rate <N/s>',
      '--dry-run',
      '--resume',
      '--rollback-on-failure',
    ])
      assert.ok(io.out().includes(o), o);
    assert.match(io.out(), /Exit status: 0 .* 4 refused by\s+preflight .* 5 some routers failed/s);
  });

  it('bad input is a usage or config error with a hint, never a stack trace', async () => {
    const cases: Array<[string[], number, string]> = [
      [['migrate'], 2, 'USAGE'],
      [['migrate', '--to', '10.0.0.3', '--rate', 'fast'], 2, 'USAGE'],
      [['migrate', '--to', '10.0.0.3', '--rate', '0/s'], 2, 'USAGE'],
      [['migrate', '--to', '10.0.0.3'], 3, 'CONFIG_MISSING'],
    ];
    for (const [args, exit, code] of cases) {
      const io = memoryIo({});
      assert.equal(await main(['--root', root, '--json', ...args], io), exit, args.join(' '));
      const out = JSON.parse(io.out()) as { error: { code: string; message: string } };
      assert.equal(out.error.code, code);
      assert.doesNotMatch(io.out() + io.err(), /\n\s+at /, 'no stack trace');
    }
  });
});
