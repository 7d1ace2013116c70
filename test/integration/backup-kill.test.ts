import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createBackup } from '../../conductor-agent/backup/run.js';
import { verifyArchive } from '../../conductor-agent/backup/verify.js';
import { conductorSchema } from '../../shared/config/schema.js';
import { makeConductorTree } from '../../sandbox/conductor-tree.js';
import { makeTmpDir } from '../helpers/tmpdir.js';

const child = fileURLToPath(new URL('../fixtures/backup-child.ts', import.meta.url));

describe('a backup killed with SIGKILL in the middle of writing', function () {
  this.timeout(120_000);
  let root: string;
  let cleanup: () => Promise<void>;
  before(async () => {
    ({ dir: root, cleanup } = await makeTmpDir('ssr-kill-'));
    await makeConductorTree(root, { routers: 1500, minions: 2, shareMinionKey: true });
  });
  after(async () => cleanup());

  it('leaves no partial backup, keeps the previous one intact, and the next run cleans up and succeeds', async () => {
    const config = conductorSchema.parse({});
    const previous = await createBackup({ config, root, hostname: 'h', now: () => new Date('2026-11-20T00:00:00Z') });
    const dir = join(root, 'var/log/128technology');

    const proc = spawn(process.execPath, ['--import', 'tsx', child, root, '2026-11-21T00:00:00Z'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    proc.stderr.on('data', (d) => {
      stderr += String(d);
    });
    const exited = new Promise<NodeJS.Signals | null>((r) => proc.once('exit', (_c, sig) => r(sig)));
    // Wait until the temp archive holds more than the manifest placeholder, then kill -9.
    const started = Date.now();
    let killedAt: number | undefined;
    while (Date.now() - started < 60_000) {
      const tmp = readdirSync(dir).find((n) => n.endsWith('.tmp'));
      if (tmp && statSync(join(dir, tmp)).size > 64 * 1024) {
        killedAt = statSync(join(dir, tmp)).size;
        proc.kill('SIGKILL');
        break;
      }
      if (proc.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(killedAt, `the child was killed while writing (stderr: ${stderr})`);
    assert.equal(await exited, 'SIGKILL');

    const names = readdirSync(dir);
    assert.ok(
      !names.some((n) => n.includes('2026-11-21T000000Z') && !n.endsWith('.tmp')),
      `no archive or sidecar of the killed run: ${names.join(', ')}`,
    );
    assert.equal((await verifyArchive(previous.archive)).status, 'verified', 'the previous backup is intact');

    // The next run takes over the dead run's lock, removes its temp file and writes a good archive.
    const next = await createBackup({ config, root, hostname: 'h', now: () => new Date('2026-11-22T00:00:00Z') });
    assert.equal(next.cleaned.filter((n) => n.endsWith('.tmp')).length, 1);
    assert.equal((await verifyArchive(next.archive)).status, 'verified');
    assert.deepEqual(
      readdirSync(dir).filter((n) => n.endsWith('.tmp')),
      [],
    );
  });
});
