/**
 * A pure, incremental Server-Sent Events parser for salt-api's framing (reference/salt.md §1.6,
 * capture 23): `retry: 400` once, then per event a non-standard `tag: <tag>` line, one `data:`
 * line of JSON and a blank line. It also follows the SSE spec for everything else (CR, LF or CRLF
 * line ends — a CRLF split across chunks included —, comments, several `data:` lines joined with
 * `\n`, one optional space after the colon, `event:`/`id:`), so a proxy reformatting the stream
 * does not break it. Chunks may split anywhere; a line longer than `maxLineLength` is refused.
 */
import { SaltApiError } from '../../shared/errors.js';

export type SseItem =
  | { type: 'retry'; retry: number }
  | { type: 'message'; data: string; tag?: string; event?: string; id?: string };

export class SseParser {
  private buf = '';
  private scanFrom = 0;
  private skipLf = false;
  private data: string[] = [];
  private tag: string | undefined;
  private event: string | undefined;
  private id: string | undefined;

  /** @param maxLineLength longest accepted line in characters (default 16 MiB). */
  constructor(private readonly maxLineLength = 16 << 20) {}

  /** Feed a decoded text chunk; returns the items completed by it. */
  feed(chunk: string): SseItem[] {
    const out: SseItem[] = [];
    if (this.skipLf && chunk.startsWith('\n')) chunk = chunk.slice(1);
    this.skipLf = false;
    this.buf += chunk;
    for (;;) {
      let i = this.scanFrom;
      const n = this.buf.length;
      while (i < n && this.buf.charCodeAt(i) !== 10 && this.buf.charCodeAt(i) !== 13) i++;
      if (i >= n) {
        this.scanFrom = n;
        if (n > this.maxLineLength) {
          this.reset();
          throw new SaltApiError('SALTAPI_BAD_PAYLOAD', `an /events line exceeds ${this.maxLineLength} characters`, {
            details: { maxLineLength: this.maxLineLength },
          });
        }
        return out;
      }
      const line = this.buf.slice(0, i);
      let next = i + 1;
      if (this.buf.charCodeAt(i) === 13) {
        if (i + 1 < n) {
          if (this.buf.charCodeAt(i + 1) === 10) next = i + 2;
        } else {
          this.skipLf = true; // a CRLF may be split across chunks
        }
      }
      this.buf = this.buf.slice(next);
      this.scanFrom = 0;
      this.line(line, out);
    }
  }

  /** The stream ended: an unterminated event is dropped, as the SSE spec says. */
  end(): SseItem[] {
    this.reset();
    return [];
  }

  private reset(): void {
    this.buf = '';
    this.scanFrom = 0;
    this.skipLf = false;
    this.data = [];
    this.tag = this.event = this.id = undefined;
  }

  private line(line: string, out: SseItem[]): void {
    if (line === '') {
      if (this.data.length) {
        const m: SseItem = { type: 'message', data: this.data.join('\n') };
        if (this.tag !== undefined) m.tag = this.tag;
        if (this.event !== undefined) m.event = this.event;
        if (this.id !== undefined) m.id = this.id;
        out.push(m);
      }
      this.data = [];
      this.tag = this.event = undefined;
      return;
    }
    if (line.startsWith(':')) return; // comment / keep-alive
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'data':
        this.data.push(value);
        break;
      case 'tag':
        this.tag = value;
        break;
      case 'event':
        this.event = value;
        break;
      case 'id':
        if (!value.includes('\0')) this.id = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) out.push({ type: 'retry', retry: Number(value) });
        break;
      default:
        break; // unknown fields are ignored
    }
  }
}
