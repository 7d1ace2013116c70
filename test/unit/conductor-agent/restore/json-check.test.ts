import assert from 'node:assert/strict';
import { checkJson, JsonChecker } from '../../../../conductor-agent/restore/json-check.js';

describe('JsonChecker (streaming JSON syntax check)', () => {
  const valid = ['{}', '[]', ' [1, -2.5e3, 0, "x", true, false, null] ', '{"a":{"b":[{"c":"\\u00e9\\n"}]}}', '"s"', '0', '12'];
  const invalid = ['', '{', '[1,]', '{"a" 1}', '01', '[1 2]', '{"a":1}}', 'tru', '"\u0001"', '{"a":1,}', '[-]', '{} {}', '"\\x"', '[1.]', '{1:2}'];
  for (const s of valid) it(`accepts ${JSON.stringify(s)} like JSON.parse`, () => assert.equal(checkJson(Buffer.from(s)), undefined));
  for (const s of invalid) it(`rejects ${JSON.stringify(s)} like JSON.parse`, () => assert.notEqual(checkJson(Buffer.from(s)), undefined));

  it('gives the same answer whatever the chunk boundaries', () => {
    const doc = Buffer.from(JSON.stringify({ datastore: { config: { a: [1, 2.5, 'x\\"y', { b: null, c: true }], u: '\u00e9' } } }, null, 2));
    for (let size = 1; size < 9; size++) {
      const c = new JsonChecker();
      for (let i = 0; i < doc.length; i += size) c.write(doc.subarray(i, i + size));
      assert.equal(c.end(), undefined, `chunk size ${size}`);
    }
    const broken = Buffer.from('{"a": [1, 2, {"b": "c"}, ]}');
    for (let size = 1; size < 9; size++) {
      const c = new JsonChecker();
      for (let i = 0; i < broken.length; i += size) c.write(broken.subarray(i, i + size));
      assert.notEqual(c.end(), undefined, `chunk size ${size}`);
    }
  });
});
