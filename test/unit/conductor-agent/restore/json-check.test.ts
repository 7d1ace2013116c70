import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { checkJson, JsonChecker } from '../../../../conductor-agent/restore/json-check.js';
import { JSON_WORKER_MIN_BYTES, startJsonCheck } from '../../../../conductor-agent/restore/json-check-async.js';
import { sharedChunks } from '../../../../conductor-agent/restore/shared-chunks.js';

describe('JsonChecker (streaming JSON syntax check)', () => {
  const valid = [
    '{}',
    '[]',
    ' [1, -2.5e3, 0, "x", true, false, null] ',
    '{"a":{"b":[{"c":"\\u00e9\\n"}]}}',
    '"s"',
    '0',
    '12',
  ];
  const invalid = [
    '',
    '{',
    '[1,]',
    '{"a" 1}',
    '01',
    '[1 2]',
    '{"a":1}}',
    'tru',
    '"\u0001"',
    '{"a":1,}',
    '[-]',
    '{} {}',
    '"\\x"',
    '[1.]',
    '{1:2}',
  ];
  for (const s of valid)
    it(`accepts ${JSON.stringify(s)} like JSON.parse`, () => assert.equal(checkJson(Buffer.from(s)), undefined));
  for (const s of invalid)
    it(`rejects ${JSON.stringify(s)} like JSON.parse`, () => assert.notEqual(checkJson(Buffer.from(s)), undefined));

  it('gives the same answer whatever the chunk boundaries', () => {
    const doc = Buffer.from(
      JSON.stringify({ datastore: { config: { a: [1, 2.5, 'x\\"y', { b: null, c: true }], u: '\u00e9' } } }, null, 2),
    );
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

describe('JSON check in its worker (started from source text), fed shared-memory chunks', () => {
  const run = async (doc: Buffer, chunk: number, skew: number): Promise<string | undefined> => {
    const check = startJsonCheck(JSON_WORKER_MIN_BYTES);
    const shared = sharedChunks(64 * 1024);
    // A leading skew byte moves every chunk off 8-byte alignment (the indentation fast path).
    if (skew) shared.copy(Buffer.alloc(skew));
    for (let i = 0; i < doc.length; i += chunk) check.write(shared.copy(doc.subarray(i, i + chunk)));
    const { error, sha256 } = await check.end();
    assert.equal(check.hashes, true);
    assert.equal(
      sha256,
      createHash('sha256').update(doc).digest('hex'),
      'the worker hashes exactly the bytes it checked',
    );
    return error;
  };
  const pretty = Buffer.from(
    JSON.stringify(
      {
        datastore: {
          config: {
            router: Array.from({ length: 200 }, (_, i) => ({
              name: `r${i}`,
              n: i,
              x: -1.5e-3,
              ok: true,
              no: null,
              s: 'a\\"b\u00e9',
            })),
          },
        },
      },
      null,
      8,
    ),
  );

  it('accepts a pretty-printed datastore whatever the chunking and alignment', async () => {
    for (const [chunk, skew] of [
      [pretty.length, 0],
      [4096, 3],
      [777, 5],
      [64 * 1024, 1],
    ] as const) {
      assert.equal(await run(pretty, chunk, skew), undefined, `chunk ${chunk} skew ${skew}`);
    }
  });

  it('rejects a broken datastore deep inside the indentation', async () => {
    const broken = Buffer.from(pretty.toString().replace('"r150"', '"r150" x'));
    assert.match((await run(broken, 4096, 3)) ?? '', /at byte/);
    const truncated = pretty.subarray(0, pretty.length - 1);
    assert.notEqual(await run(truncated, 777, 5), undefined);
  });
});
