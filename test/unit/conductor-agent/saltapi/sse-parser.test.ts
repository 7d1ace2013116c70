import assert from 'node:assert/strict';
import { SseParser, type SseItem } from '../../../../conductor-agent/saltapi/sse-parser.js';
import { hasCode } from '../../../../shared/errors.js';
import { readCapture } from '../../../fixtures/captures/read-capture.js';

const stream = readCapture('23-events-stream.txt').body;

function parseAll(chunks: string[], parser = new SseParser()): SseItem[] {
  return chunks.flatMap((c) => parser.feed(c));
}

describe('conductor-agent/saltapi/sse-parser (salt-api /events framing, capture 23)', () => {
  it('reads the recorded stream: retry first, then every tag: line paired with its one-line JSON data', () => {
    const items = parseAll([stream]);
    assert.deepEqual(items[0], { type: 'retry', retry: 400 });
    const messages = items.filter((i) => i.type === 'message');
    assert.equal(messages.length, 7);
    for (const m of messages) {
      assert.equal(m.type, 'message');
      if (m.type !== 'message') continue;
      assert.equal((JSON.parse(m.data) as { tag: string }).tag, m.tag);
    }
    assert.deepEqual(messages.map((m) => (m.type === 'message' ? m.tag : '')).slice(3, 6), [
      'salt/auth',
      'minion/refresh/router-1',
      'ssr-recovery/demo',
    ]);
  });

  it('gives the same result whatever the chunk boundaries (every split point of the capture)', () => {
    const whole = parseAll([stream]);
    for (let i = 1; i < stream.length; i += 7) {
      assert.deepEqual(parseAll([stream.slice(0, i), stream.slice(i)]), whole, `split at ${i}`);
    }
    assert.deepEqual(parseAll([...stream]), whole, 'one character per chunk');
  });

  it('accepts CRLF and bare CR line ends, including a CRLF split between chunks', () => {
    const crlf = stream.replace(/\n/g, '\r\n');
    const whole = parseAll([stream]);
    assert.deepEqual(parseAll([crlf]), whole);
    const at = crlf.indexOf('\r\n', 100) + 1; // between \r and \n
    assert.deepEqual(parseAll([crlf.slice(0, at), crlf.slice(at)]), whole);
    assert.deepEqual(parseAll([stream.replace(/\n/g, '\r')]), whole);
  });

  it('reassembles a long data line (1 MiB) fed in small chunks', () => {
    const big = JSON.stringify({ tag: 'big', data: { blob: 'x'.repeat(1 << 20) } });
    const text = `retry: 400\ntag: big\ndata: ${big}\n\n`;
    const chunks: string[] = [];
    for (let i = 0; i < text.length; i += 4096) chunks.push(text.slice(i, i + 4096));
    const items = parseAll(chunks);
    assert.equal(items.length, 2);
    assert.equal(items[1]!.type === 'message' && items[1]!.data, big);
  });

  it('refuses a line longer than the limit with SALTAPI_BAD_PAYLOAD', () => {
    const p = new SseParser(1000);
    assert.throws(
      () => p.feed(`data: ${'y'.repeat(2000)}`),
      (err: unknown) => hasCode(err, 'SALTAPI_BAD_PAYLOAD'),
    );
  });

  it('follows the SSE rules salt-api does not use: comments, several data lines, no space after the colon, event/id', () => {
    const items = parseAll([': keep-alive\n', 'event: x\nid: 7\ndata:{"a":\ndata: 1}\n\n', 'data: lonely\n']);
    assert.deepEqual(items, [{ type: 'message', data: '{"a":\n1}', event: 'x', id: '7' }]);
  });

  it('ignores a bad retry value and blank-only events', () => {
    assert.deepEqual(parseAll(['retry: soon\n\n\n']), []);
  });

  it('drops an unterminated event at end of stream', () => {
    const p = new SseParser();
    assert.deepEqual(p.feed('tag: t\ndata: {}\n'), []);
    assert.deepEqual(p.end(), []);
  });
});
