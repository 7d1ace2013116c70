/**
 * A compressed gzip member of an exact, reserved length: the deflate data of a normal gzip member
 * behind a header whose FCOMMENT field (RFC 1952 §2.3.1, a NUL-terminated string every gzip reader
 * skips) is padded with spaces to make up the difference. This is what lets the manifest be both
 * the first member *and* compressed: reserve its length up front, write a placeholder, overwrite
 * it in place with the real manifest at the end.
 *
 * The reservation is estimated by compressing a stand-in with random hex where the hashes will
 * be: SHA-256 hex is statistically the same as random hex, so deflate needs the same bytes for it
 * (the spread is far below the margin added here).
 */
import { gzipSync } from 'node:zlib';

const FCOMMENT = 0x10;
/** Relative and absolute slack over the estimate. */
const MARGIN = 1.03;
const SLACK = 1024;

/** Bytes to reserve for a member whose content is like `standIn` once compressed. */
export function reserveFor(standIn: Buffer, level = 6): number {
  return Math.ceil(gzipSync(standIn, { level }).length * MARGIN) + SLACK;
}

/** `data` as one gzip member of exactly `length` bytes, or undefined if it does not fit. */
export function paddedGzip(data: Buffer, length: number, level = 6): Buffer | undefined {
  const gz = gzipSync(data, { level });
  const pad = length - gz.length - 1; // comment bytes, then its NUL
  if (pad < 0) return undefined;
  const out = Buffer.alloc(length, 0x20);
  gz.copy(out, 0, 0, 10);
  out[3] = out[3]! | FCOMMENT;
  out[10 + pad] = 0;
  gz.copy(out, 11 + pad, 10);
  return out;
}
