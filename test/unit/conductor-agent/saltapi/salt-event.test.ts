import assert from 'node:assert/strict';
import { classifySaltEvent, parseRawEvent } from '../../../../conductor-agent/saltapi/salt-event.js';
import { SseParser } from '../../../../conductor-agent/saltapi/sse-parser.js';
import { hasCode } from '../../../../shared/errors.js';
import { readCapture } from '../../../fixtures/captures/read-capture.js';

describe('conductor-agent/saltapi/salt-event (typed events, reference §3, §8, §10)', () => {
  const events = new SseParser()
    .feed(readCapture('23-events-stream.txt').body)
    .flatMap((i) => (i.type === 'message' ? [classifySaltEvent(parseRawEvent(i.data, i.tag))] : []));

  it('classifies the recorded stream', () => {
    assert.deepEqual(
      events.map((e) => e.kind),
      ['other', 'job-new', 'job-return', 'auth', 'other', 'minion-event', 'job-return'],
    );
    const auth = events[3]!;
    assert.ok(
      auth.kind === 'auth' &&
        auth.minionId === 'router-1' &&
        auth.act === 'accept' &&
        auth.result &&
        auth.pub?.startsWith('-----BEGIN'),
    );
    const custom = events[5]!;
    assert.ok(custom.kind === 'minion-event' && custom.minionId === 'router-1');
    assert.equal((custom.payload as { k: number }).k, 1);
    const ret = events[2]!;
    assert.ok(
      ret.kind === 'job-return' && ret.minionId === 'router-1' && ret.return === true && ret.fun === 'test.ping',
    );
  });

  it('does not take a minion-fired salt/auth for a master auth event (spoofing, reference §7.2)', () => {
    const e = classifySaltEvent({
      tag: 'salt/auth',
      data: { id: 'evil', cmd: '_minion_event', data: { act: 'accept', id: 'router-2' } },
    });
    assert.equal(e.kind, 'minion-event');
  });

  it('handles 3006 auth failures without act and 3008 salt/key act spellings', () => {
    const rejected = classifySaltEvent({ tag: 'salt/auth', data: { result: false, id: 'r', pub: 'x' } });
    assert.ok(rejected.kind === 'auth' && rejected.act === undefined && rejected.result === false);
    const k = classifySaltEvent({ tag: 'salt/key', data: { result: true, act: 'accepted', id: 'r' } });
    assert.ok(k.kind === 'key' && k.act === 'accept');
  });

  it('recognises salt/minion/<id>/start only for that minion', () => {
    const ok = classifySaltEvent({
      tag: 'salt/minion/r1/start',
      data: { id: 'r1', cmd: '_minion_event', data: 'Minion r1 started' },
    });
    assert.ok(ok.kind === 'minion-start' && ok.minionId === 'r1');
    assert.equal(
      classifySaltEvent({ tag: 'salt/minion/r2/start', data: { id: 'r1', cmd: '_minion_event' } }).kind,
      'minion-event',
    );
  });

  it('rejects data that is not the salt-api JSON with SALTAPI_BAD_PAYLOAD', () => {
    assert.throws(
      () => parseRawEvent('not json'),
      (e: unknown) => hasCode(e, 'SALTAPI_BAD_PAYLOAD'),
    );
    assert.throws(
      () => parseRawEvent('{"tag": "x"}'),
      (e: unknown) => hasCode(e, 'SALTAPI_BAD_PAYLOAD'),
    );
    assert.equal(parseRawEvent('{"data": {}}', 'from-tag-line').tag, 'from-tag-line');
  });
});
