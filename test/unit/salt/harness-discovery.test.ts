// `npm run test:salt` without Salt says exactly what is missing (the setting, the commands) and
// exits non-zero; it never runs a spec. Salt itself is not needed here: PATH is pointed at folders
// with stand-in commands.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTmpDir } from '../../helpers/tmpdir.js';

const repo = fileURLToPath(new URL('../../..', import.meta.url));
const runner = join(repo, 'test/salt/run.ts');

function runWith(env: NodeJS.ProcessEnv): { status: number | null; stderr: string; stdout: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', runner], { cwd: repo, encoding: 'utf8', env });
  return { status: r.status, stderr: r.stderr, stdout: r.stdout };
}

describe('test:salt discovery of Salt', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => ({ dir, cleanup } = await makeTmpDir('ssr-salt-discovery-')));
  after(() => cleanup());

  it('no SALT_RIG and no Salt command on PATH: names the setting and every command, exits 2', () => {
    const r = runWith({ PATH: join(dir, 'empty') });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /SALT_RIG=\/path\/to\/rig\.sh/);
    for (const c of ['salt-master', 'salt-minion', 'salt-api', 'salt-call', 'salt-key', 'salt-run']) {
      assert.ok(r.stderr.includes(c), c);
    }
    assert.match(r.stdout, /^0 passed, 1 failed$/m);
  });

  it('Salt on PATH without salt-api: names exactly the missing command', () => {
    const bin = join(dir, 'bin');
    mkdirSync(bin, { recursive: true });
    for (const c of ['salt-master', 'salt-minion', 'salt-call', 'salt-key', 'salt-run', 'salt']) {
      writeFileSync(join(bin, c), '#!/bin/sh\nexit 0\n');
      chmodSync(join(bin, c), 0o755);
    }
    const r = runWith({ PATH: bin });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /PATH lacks salt-api\./);
  });

  it('SALT_RIG naming no executable file: says so and exits 2', () => {
    const r = runWith({ PATH: join(dir, 'empty'), SALT_RIG: join(dir, 'nowhere/rig.sh') });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /SALT_RIG=.*nowhere\/rig\.sh: no executable rig\.sh there/);
  });
});
