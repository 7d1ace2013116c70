/**
 * A streaming JSON syntax checker (RFC 8259) fed with the bytes of a datastore while it is being
 * extracted. It builds nothing, so checking the ~200 MB running config costs one pass over bytes
 * that are already in memory instead of a `JSON.parse` that needs the whole file as one string.
 */

/** Feed chunks with `write`; `end` returns undefined (one valid JSON document) or the error. */
export interface JsonSyntaxChecker {
  write(buf: Uint8Array): void;
  end(): string | undefined;
}

/**
 * A new checker. Self-contained (no module scope) because the JSON worker runs it from source
 * text (worker-source.ts). All state lives in locals of `write` while a chunk is scanned.
 */
export function createJsonChecker(): JsonSyntaxChecker {
  // States. VALUE: a value is expected; ARR_FIRST: right after `[`; KEY_FIRST: right after `{`;
  // KEY: a key after `,`; AFTER: after a value (`,`, a closer, or the end at depth 0); N_*: inside a
  // number (the byte ending a number is read again in AFTER); LIT: inside true/false/null.
  const VALUE = 0,
    ARR_FIRST = 1,
    KEY_FIRST = 2,
    KEY = 3,
    COLON = 4,
    AFTER = 5,
    STR = 6,
    ESC = 7,
    HEX = 8,
    N_MINUS = 9,
    N_ZERO = 10,
    N_INT = 11,
    N_DOT = 12,
    N_FRAC = 13,
    N_E = 14,
    N_ESIGN = 15,
    N_EXP = 16,
    LIT = 17;
  // Eight spaces read as one float64: pretty-printed datastores are mostly indentation, skipped a
  // word at a time where the chunk is 8-byte aligned.
  const SPACES8 = new Float64Array(new Uint8Array(8).fill(0x20).buffer)[0]!;
  let state = VALUE;
  let stack = new Uint8Array(64); // 1 = object, 2 = array
  let depth = 0;
  let isKey = false;
  let hexLeft = 0;
  let lit = '';
  let litPos = 0;
  let done = false; // the top-level value is complete
  let offset = 0;
  let error: string | undefined;
  const fail = (i: number, why: string): void => {
    error = `${why} at byte ${offset + i}`;
  };

  const write = (buf: Uint8Array): void => {
    if (error !== undefined) return;
    const n = buf.length;
    const a0 = (8 - (buf.byteOffset & 7)) & 7;
    const nw = n > a0 ? (n - a0) >> 3 : 0;
    const words = new Float64Array(buf.buffer, buf.byteOffset + a0, nw);
    let i = 0;
    let s = state;
    let d = depth;
    let st = stack;
    outer: while (i < n) {
      let c = buf[i]!;
      if (s === STR) {
        while (c !== 0x22 && c !== 0x5c && c >= 0x20) {
          if (++i === n) break outer;
          c = buf[i]!;
        }
        if (c === 0x22) {
          s = isKey ? COLON : AFTER;
          if (d === 0) done = true;
        } else if (c === 0x5c) s = ESC;
        else return fail(i, 'control character in string');
        i++;
        continue;
      }
      if (s <= AFTER) {
        while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
          if (c === 0x20 && i >= a0 && ((i - a0) & 7) === 0) {
            let w = (i - a0) >> 3;
            while (w < nw && words[w] === SPACES8) w++;
            const j = a0 + (w << 3);
            if (j !== i) {
              i = j;
              if (i >= n) break outer;
              c = buf[i]!;
              continue;
            }
          }
          if (++i === n) break outer;
          c = buf[i]!;
        }
        switch (s) {
          case COLON:
            if (c !== 0x3a) return fail(i, 'expected ":"');
            s = VALUE;
            i++;
            continue;
          case AFTER:
            if (d === 0) return fail(i, 'data after the top-level value');
            if (c === 0x2c) {
              s = st[d - 1] === 1 ? KEY : VALUE;
              i++;
              continue;
            }
            if (c === 0x7d || c === 0x5d) {
              if (st[d - 1] !== (c === 0x7d ? 1 : 2)) return fail(i, 'mismatched bracket');
              d--;
              if (d === 0) done = true;
              i++;
              continue;
            }
            return fail(i, 'expected "," or a closing bracket');
          case KEY_FIRST:
          case KEY:
            if (c === 0x22) {
              isKey = true;
              s = STR;
              i++;
              continue;
            }
            if (c === 0x7d && s === KEY_FIRST) {
              d--;
              s = AFTER;
              if (d === 0) done = true;
              i++;
              continue;
            }
            return fail(i, 'expected a key');
          default: // VALUE, ARR_FIRST
            if (c === 0x5d && s === ARR_FIRST) {
              d--;
              s = AFTER;
              if (d === 0) done = true;
              i++;
              continue;
            }
            if (done) return fail(i, 'more than one top-level value');
            if (c === 0x22) {
              isKey = false;
              s = STR;
              i++;
              continue;
            }
            if (c === 0x7b || c === 0x5b) {
              if (d === st.length) {
                const b = new Uint8Array(d * 2);
                b.set(st);
                st = stack = b;
              }
              st[d++] = c === 0x7b ? 1 : 2;
              s = c === 0x7b ? KEY_FIRST : ARR_FIRST;
              i++;
              continue;
            }
            if (c >= 0x31 && c <= 0x39) s = N_INT;
            else if (c === 0x30) s = N_ZERO;
            else if (c === 0x2d) s = N_MINUS;
            else if (c === 0x74) {
              lit = 'true';
              litPos = 1;
              s = LIT;
            } else if (c === 0x66) {
              lit = 'false';
              litPos = 1;
              s = LIT;
            } else if (c === 0x6e) {
              lit = 'null';
              litPos = 1;
              s = LIT;
            } else return fail(i, 'expected a value');
            i++;
            continue;
        }
      }
      switch (s) {
        case ESC:
          if (c === 0x75) {
            s = HEX;
            hexLeft = 4;
          } else if (
            c === 0x22 ||
            c === 0x5c ||
            c === 0x2f ||
            c === 0x62 ||
            c === 0x66 ||
            c === 0x6e ||
            c === 0x72 ||
            c === 0x74
          )
            s = STR;
          else return fail(i, 'bad escape');
          i++;
          continue;
        case HEX:
          if (!((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66)))
            return fail(i, 'bad \\u escape');
          if (--hexLeft === 0) s = STR;
          i++;
          continue;
        case LIT:
          if (c !== lit.charCodeAt(litPos)) return fail(i, 'bad literal');
          if (++litPos === lit.length) {
            s = AFTER;
            if (d === 0) done = true;
          }
          i++;
          continue;
        case N_MINUS:
          if (c === 0x30) s = N_ZERO;
          else if (c >= 0x31 && c <= 0x39) s = N_INT;
          else return fail(i, 'bad number');
          i++;
          continue;
        case N_INT:
        case N_ZERO:
          if (s === N_INT) {
            while (c >= 0x30 && c <= 0x39) {
              if (++i === n) break outer;
              c = buf[i]!;
            }
          }
          if (c === 0x2e) {
            s = N_DOT;
            i++;
            continue;
          }
          if (c === 0x65 || c === 0x45) {
            s = N_E;
            i++;
            continue;
          }
          s = AFTER; // the byte is read again
          if (d === 0) done = true;
          continue;
        case N_DOT:
          if (c < 0x30 || c > 0x39) return fail(i, 'bad number');
          s = N_FRAC;
          i++;
          continue;
        case N_FRAC:
          while (c >= 0x30 && c <= 0x39) {
            if (++i === n) break outer;
            c = buf[i]!;
          }
          if (c === 0x65 || c === 0x45) {
            s = N_E;
            i++;
            continue;
          }
          s = AFTER;
          if (d === 0) done = true;
          continue;
        case N_E:
        case N_ESIGN:
          if (s === N_E && (c === 0x2b || c === 0x2d)) {
            s = N_ESIGN;
            i++;
            continue;
          }
          if (c < 0x30 || c > 0x39) return fail(i, 'bad number');
          s = N_EXP;
          i++;
          continue;
        case N_EXP:
          while (c >= 0x30 && c <= 0x39) {
            if (++i === n) break outer;
            c = buf[i]!;
          }
          s = AFTER;
          if (d === 0) done = true;
          continue;
        default:
          return fail(i, 'internal state');
      }
    }
    state = s;
    depth = d;
    offset += n;
  };

  return {
    write,
    end: () => {
      if (error !== undefined) return error;
      // A number at the top level ends with the input.
      if ((state === N_ZERO || state === N_INT || state === N_FRAC || state === N_EXP) && depth === 0) {
        state = AFTER;
        done = true;
      }
      if (!done || state !== AFTER || depth !== 0) return `truncated JSON at byte ${offset}`;
      return undefined;
    },
  };
}

/** Class form of {@link createJsonChecker}. */
export class JsonChecker implements JsonSyntaxChecker {
  readonly #c = createJsonChecker();
  /** Check one more chunk; stops early (cheaply) once an error was found. */
  write(buf: Uint8Array): void {
    this.#c.write(buf);
  }

  /** Finish: undefined when the bytes were one valid JSON document, else a short reason with the byte offset. */
  end(): string | undefined {
    return this.#c.end();
  }
}

/** Check a whole buffer (small files, tests). */
export function checkJson(buf: Uint8Array): string | undefined {
  const c = createJsonChecker();
  c.write(buf);
  return c.end();
}

/**
 * The JSON worker's body (runs from source text, see worker-source.ts): chunks, then `null` for
 * the end; answers `{ error, sha256 }` (error text or null, and the SHA-256 of the bytes checked).
 */
export function jsonWorkerMain(): void {
  const { parentPort } = require('node:worker_threads') as typeof import('node:worker_threads');
  const { createHash } = require('node:crypto') as typeof import('node:crypto');
  const checker = createJsonChecker();
  const hash = createHash('sha256');
  parentPort!.on('message', (m: Uint8Array | null) => {
    if (m === null) parentPort!.postMessage({ error: checker.end() ?? null, sha256: hash.digest('hex') });
    else {
      checker.write(m);
      hash.update(m);
    }
  });
}
