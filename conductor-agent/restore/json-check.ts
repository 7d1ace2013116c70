/**
 * A streaming JSON syntax checker (RFC 8259) fed with the bytes of a datastore while it is being
 * extracted. It builds nothing, so checking the ~200 MB running config costs one pass over bytes
 * that are already in memory instead of a `JSON.parse` that needs the whole file as one string.
 */

const enum S {
  Value, // expecting a value
  AfterValue, // expecting `,` or a closer (or end at depth 0)
  Key, // expecting a string key or `}` (right after `{`)
  KeyAfterComma, // expecting a string key
  Colon,
  Str,
  StrEsc,
  StrHex,
  Num,
  Lit,
  ArrFirst, // right after `[`: a value or `]`
}

/** Feed chunks with {@link JsonChecker.write}; {@link JsonChecker.end} returns undefined or the error. */
export class JsonChecker {
  private state: S = S.Value;
  private readonly stack: number[] = []; // 1 = object, 2 = array
  private strIsKey = false;
  private hexLeft = 0;
  private lit = '';
  private litPos = 0;
  private numText = '';
  private offset = 0;
  private error: string | undefined;
  private sawValue = false;

  /** Check one more chunk; stops early (cheaply) once an error was found. */
  write(buf: Uint8Array): void {
    if (this.error !== undefined) return;
    const n = buf.length;
    let i = 0;
    let state = this.state;
    while (i < n) {
      if (state === S.Str) {
        // Fast path: most bytes of a datastore are ordinary string bytes or indentation.
        let d = 0;
        while (i < n && (d = buf[i]!) !== 0x22 && d !== 0x5c && d >= 0x20) i++;
        if (i === n) break;
        if (d < 0x20) { this.state = state; return this.fail(i, 'control character in string'); }
        state = d === 0x22 ? (this.strIsKey ? S.Colon : S.AfterValue) : S.StrEsc;
        i++;
        continue;
      }
      let c = buf[i]!;
      if (state <= S.Colon || state === S.ArrFirst) {
        while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
          if (++i === n) break;
          c = buf[i]!;
        }
        if (i === n) break;
      }
      // Inline the common transitions (a datastore is mostly `"key": "value",` lines); the rest
      // goes through step().
      if (c === 0x22 && (state === S.Key || state === S.KeyAfterComma)) { this.strIsKey = true; state = S.Str; i++; continue; }
      if (c === 0x22 && (state === S.Value || state === S.ArrFirst) && this.stack.length !== 0) { this.strIsKey = false; state = S.Str; i++; continue; }
      if (c === 0x3a && state === S.Colon) { state = S.Value; i++; continue; }
      if (c === 0x2c && state === S.AfterValue && this.stack.length !== 0) {
        state = this.stack[this.stack.length - 1] === 1 ? S.KeyAfterComma : S.Value;
        i++;
        continue;
      }
      this.state = state;
      this.step(c, i);
      if (this.error !== undefined) return;
      state = this.state;
      // Num re-reads its terminating byte in the next state.
      if (!this.reread) i++;
      this.reread = false;
    }
    this.state = state;
    this.offset += n;
  }

  private reread = false;

  private step(c: number, i: number): void {
    switch (this.state) {
      case S.StrEsc:
        if (c === 0x75) { this.state = S.StrHex; this.hexLeft = 4; }
        else if (c === 0x22 || c === 0x5c || c === 0x2f || c === 0x62 || c === 0x66 || c === 0x6e || c === 0x72 || c === 0x74) this.state = S.Str;
        else this.fail(i, 'bad escape');
        return;
      case S.StrHex:
        if (!isHex(c)) this.fail(i, 'bad \\u escape');
        else if (--this.hexLeft === 0) this.state = S.Str;
        return;
      case S.Num:
        if ((c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x65 || c === 0x45 || c === 0x2b || c === 0x2d) {
          this.numText += String.fromCharCode(c);
          return;
        }
        if (!NUMBER.test(this.numText)) return this.fail(i, 'bad number');
        this.state = S.AfterValue;
        this.reread = true;
        return;
      case S.Lit:
        if (c !== this.lit.charCodeAt(this.litPos)) this.fail(i, 'bad literal');
        else if (++this.litPos === this.lit.length) this.state = S.AfterValue;
        return;
      case S.Value:
      case S.ArrFirst:
        if (this.state === S.ArrFirst && c === 0x5d) return this.close(2, i);
        if (this.stack.length === 0 && this.sawValue) return this.fail(i, 'more than one top-level value');
        this.sawValue = true;
        if (c === 0x7b) { this.stack.push(1); this.state = S.Key; }
        else if (c === 0x5b) { this.stack.push(2); this.state = S.ArrFirst; }
        else if (c === 0x22) { this.strIsKey = false; this.state = S.Str; }
        else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) { this.numText = String.fromCharCode(c); this.state = S.Num; }
        else if (c === 0x74) { this.lit = 'true'; this.litPos = 1; this.state = S.Lit; }
        else if (c === 0x66) { this.lit = 'false'; this.litPos = 1; this.state = S.Lit; }
        else if (c === 0x6e) { this.lit = 'null'; this.litPos = 1; this.state = S.Lit; }
        else this.fail(i, 'expected a value');
        return;
      case S.Key:
      case S.KeyAfterComma:
        if (c === 0x22) { this.strIsKey = true; this.state = S.Str; }
        else if (c === 0x7d && this.state === S.Key) this.close(1, i);
        else this.fail(i, 'expected a key');
        return;
      case S.Colon:
        if (c !== 0x3a) this.fail(i, 'expected ":"');
        else this.state = S.Value;
        return;
      case S.AfterValue: {
        const top = this.stack[this.stack.length - 1];
        if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) return;
        if (top === undefined) return this.fail(i, 'data after the top-level value');
        if (c === 0x2c) this.state = top === 1 ? S.KeyAfterComma : S.Value;
        else if (c === 0x7d && top === 1) this.close(1, i);
        else if (c === 0x5d && top === 2) this.close(2, i);
        else this.fail(i, 'expected "," or a closing bracket');
        return;
      }
      default:
        this.fail(i, 'internal state');
    }
  }

  /** Finish: undefined when the bytes were one valid JSON document, else a short reason with the byte offset. */
  end(): string | undefined {
    if (this.error !== undefined) return this.error;
    if (this.state === S.Num && NUMBER.test(this.numText) && this.stack.length === 0) this.state = S.AfterValue;
    if (!this.sawValue || this.state !== S.AfterValue || this.stack.length !== 0) return `truncated JSON at byte ${this.offset}`;
    return undefined;
  }

  private close(kind: number, i: number): void {
    if (this.stack.pop() !== kind) this.fail(i, 'mismatched bracket');
    else this.state = S.AfterValue;
  }

  private fail(i: number, why: string): void {
    this.error = `${why} at byte ${this.offset + i}`;
  }
}

const NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;
const isHex = (c: number): boolean => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);

/** Check a whole buffer (convenience for small files and tests). */
export function checkJson(buf: Uint8Array): string | undefined {
  const c = new JsonChecker();
  c.write(buf);
  return c.end();
}
