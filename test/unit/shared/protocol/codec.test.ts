import assert from 'node:assert/strict';
import { hasCode } from '../../../../shared/errors.js';
import { decodeFrame, encodeFrame } from '../../../../shared/protocol/codec.js';
import { MAX_FRAME_BYTES, PROTOCOL_VERSION, type Frame } from '../../../../shared/protocol/messages.js';

describe('shared/protocol/codec', () => {
  const env = { payload: 'eyJ4IjoxfQ', sig: 'c2ln' };
  const good: Frame[] = [
    { v: PROTOCOL_VERSION, type: 'hello', role: 'conductor', challenge: 'abc', serverTime: 1 },
    { v: PROTOCOL_VERSION, type: 'hello', role: 'router', envelope: env },
    { v: PROTOCOL_VERSION, type: 'heartbeat', ts: 1 },
    { v: PROTOCOL_VERSION, type: 'command', envelope: env },
    { v: PROTOCOL_VERSION, type: 'report', envelope: env },
    { v: PROTOCOL_VERSION, type: 'ack', id: 'c1', ok: false, code: 'PROTOCOL_EXPIRED' },
  ];

  it('round-trips every frame type', () => {
    for (const f of good) assert.deepEqual(decodeFrame(encodeFrame(f)), f);
    assert.deepEqual(decodeFrame(Buffer.from(encodeFrame(good[2]!))), good[2]);
  });

  it('refuses frames over the size limit with PROTOCOL_TOO_LARGE, both ways', () => {
    const big = JSON.stringify({ v: 1, type: 'heartbeat', ts: 1, pad: 'x'.repeat(MAX_FRAME_BYTES) });
    assert.throws(
      () => decodeFrame(big),
      (e) => hasCode(e, 'PROTOCOL_TOO_LARGE'),
    );
    assert.throws(
      () => decodeFrame('{"v":1,"type":"heartbeat","ts":1}', { maxBytes: 10 }),
      (e) => hasCode(e, 'PROTOCOL_TOO_LARGE'),
    );
    assert.throws(
      () => encodeFrame({ v: 1, type: 'ack', id: 'x'.repeat(MAX_FRAME_BYTES), ok: true }),
      (e) => hasCode(e, 'PROTOCOL_TOO_LARGE'),
    );
  });

  it('refuses other protocol versions with PROTOCOL_VERSION', () => {
    for (const v of [0, 2, '1', undefined]) {
      assert.throws(
        () => decodeFrame(JSON.stringify({ v, type: 'heartbeat', ts: 1 })),
        (e) => hasCode(e, 'PROTOCOL_VERSION'),
      );
    }
  });

  it('refuses malformed frames with PROTOCOL_MALFORMED', () => {
    const bad = [
      'not json',
      '[]',
      '"x"',
      '{"v":1}',
      '{"v":1,"type":"nope"}',
      '{"v":1,"type":"command"}',
      '{"v":1,"type":"command","envelope":{"payload":"a=b","sig":"x"}}',
      '{"v":1,"type":"hello","role":"router"}',
      '{"v":1,"type":"ack","id":"x"}',
      '{"v":1,"type":"heartbeat"}',
    ];
    for (const b of bad)
      assert.throws(
        () => decodeFrame(b),
        (e) => hasCode(e, 'PROTOCOL_MALFORMED'),
        b,
      );
  });
});
