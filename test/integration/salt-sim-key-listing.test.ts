// The master simulator reuses its listing of a key folder while the folder is unchanged (a publish
// lists minions/ each time: 10,000 names at fleet scale). A key written or removed by anyone (salt-key,
// the product's key gate) must show in the next listing, as Salt's key folders do.
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { MasterPki } from '../../sandbox/salt/master-pki.js';
import { matchTarget } from '../../sandbox/salt/glob.js';
import { makeTmpDir } from '../helpers/tmpdir.js';

describe('salt master simulator: key folder listings', () => {
  it('a key added or removed right after a listing shows in the next one', async () => {
    const { dir, cleanup } = await makeTmpDir();
    try {
      const pki = new MasterPki(dir);
      await pki.ensure();
      for (let i = 0; i < 20; i++) {
        const id = `m${i}`;
        await pki.ids('minions');
        await writeFile(pki.path('minions', id), 'key');
        assert.ok((await pki.ids('minions')).includes(id), `${id} listed right after it was written`);
        await pki.ids('minions');
        await rm(pki.path('minions', id));
        assert.ok(!(await pki.ids('minions')).includes(id), `${id} gone right after it was removed`);
      }
      await writeFile(pki.path('minions', 'kept'), 'key');
      await new Promise((r) => setTimeout(r, 120));
      const a = await pki.ids('minions');
      a.push('not-a-key');
      assert.deepEqual(await pki.ids('minions'), ['kept'], 'callers get their own copy');
    } finally {
      await cleanup();
    }
  });

  it('list and glob targets match as before (a Set for lists, one RegExp per glob)', () => {
    const ids = ['a1', 'a2', 'b1', 'web.1'];
    assert.deepEqual(matchTarget(ids, ['b1', 'a2', 'zz'], 'list'), ['a2', 'b1']);
    assert.deepEqual(matchTarget(ids, 'a1, b1', 'list'), ['a1', 'b1']);
    assert.deepEqual(matchTarget(ids, 'a*', 'glob'), ['a1', 'a2']);
    assert.deepEqual(matchTarget(ids, 'web.?', 'glob'), ['web.1']);
    assert.deepEqual(matchTarget(ids, '[!a]*', 'glob'), ['b1', 'web.1']);
  });
});
