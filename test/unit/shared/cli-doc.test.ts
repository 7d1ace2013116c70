import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { renderCliDoc } from '../../../scripts/cli-doc.js';

describe('docs/cli.md', () => {
  it('is in step with both programs (run `npm run docs:cli` after changing a command)', () => {
    const committed = readFileSync(new URL('../../../docs/cli.md', import.meta.url), 'utf8');
    assert.equal(committed, renderCliDoc());
  });

  it('covers every command, nested ones too', () => {
    const doc = renderCliDoc();
    for (const c of [
      'conductor-agent backup create',
      'conductor-agent keys rotate',
      'conductor-agent restore',
      'router-agent reauth',
    ]) {
      assert.ok(doc.includes(`### \`${c}\``), c);
    }
  });
});
