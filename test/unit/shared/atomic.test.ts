import assert from 'node:assert/strict';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic, PRIVATE_DIR_MODE } from '../../../shared/fs/atomic.js';
import { hasCode } from '../../../shared/errors.js';
import { makeTmpDir } from '../../helpers/tmpdir.js';

describe('shared/fs/atomic', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => ({ dir, cleanup } = await makeTmpDir()));
  afterEach(() => cleanup());

  it('writes 0600 files into 0700 folders and leaves no temp file', async () => {
    const target = join(dir, 'state', 'key.pem');
    await writeFileAtomic(target, 'secret', { dirMode: PRIVATE_DIR_MODE });
    assert.equal(await readFile(target, 'utf8'), 'secret');
    assert.equal((await stat(target)).mode & 0o777, 0o600);
    assert.equal((await stat(join(dir, 'state'))).mode & 0o777, 0o700);
    assert.deepEqual(await readdir(join(dir, 'state')), ['key.pem']);
  });

  it('fails with FS_WRITE_FAILED and keeps the old file when the folder is missing', async () => {
    await assert.rejects(writeFileAtomic(join(dir, 'nope', 'x'), 'y'), (e) => hasCode(e, 'FS_WRITE_FAILED'));
  });
});
