import assert from 'node:assert/strict';
import { mkdir, stat, writeFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { acquireLock } from '../../../shared/fs/lock.js';
import { hasCode } from '../../../shared/errors.js';
import { makeTmpDir } from '../../helpers/tmpdir.js';

describe('shared/fs/lock', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => ({ dir, cleanup } = await makeTmpDir()));
  afterEach(() => cleanup());

  it('refuses a second holder with LOCK_HELD and names the holder', async () => {
    const p = join(dir, 'x.lock');
    const first = await acquireLock(p, { purpose: 'backup' });
    await assert.rejects(
      acquireLock(p, { purpose: 'backup', pid: process.pid + 1 }),
      (e) => hasCode(e, 'LOCK_HELD') && (e.details.holder as { pid: number }).pid === process.pid,
    );
    await first.release();
    const again = await acquireLock(p, { purpose: 'backup' });
    await again.release();
  });

  it('takes over a lock left by a dead process on this host', async () => {
    const p = join(dir, 'x.lock');
    await writeFile(p, JSON.stringify({ pid: 999999, host: 'h1', since: 'then', purpose: 'backup' }));
    const l = await acquireLock(p, { purpose: 'restore', host: 'h1', isAlive: () => false });
    assert.equal(JSON.parse(await readFile(p, 'utf8')).purpose, 'restore');
    await l.release();
  });

  it('never takes a lock held on another host', async () => {
    const p = join(dir, 'x.lock');
    await writeFile(p, JSON.stringify({ pid: 1, host: 'other-node', since: 'then', purpose: 'backup' }));
    await assert.rejects(acquireLock(p, { purpose: 'backup', host: 'h1', isAlive: () => false }), (e) =>
      hasCode(e, 'LOCK_HELD'),
    );
  });

  it('leaves the mode of an existing folder alone (regression: the backup lock made /var/log/128technology 0700)', async () => {
    const shared = join(dir, 'var/log/128technology');
    await mkdir(shared, { recursive: true, mode: 0o755 });
    const l = await acquireLock(join(shared, '.conductor-backup.lock'), { purpose: 'backup' });
    await l.release();
    assert.equal((await stat(shared)).mode & 0o777, 0o755);
  });
});

describe('shared/fs/accounts', () => {
  it('maps ids to the first name and names to their id, skipping comments and malformed lines', async () => {
    const { parseAccounts } = await import('../../../shared/fs/accounts.js');
    const t = parseAccounts(
      '# comment\nroot:x:0:0::/root:/bin/bash\ntoor:x:0:0::/root:/bin/sh\nbad line\nsalt:x:abc:1\n\n128t:x:990:990::/:/sbin/nologin\n',
    );
    assert.equal(t.byId.get(0), 'root');
    assert.equal(t.byName.get('toor'), 0);
    assert.equal(t.byName.get('128t'), 990);
    assert.equal(t.byName.has('salt'), false);
  });
});
