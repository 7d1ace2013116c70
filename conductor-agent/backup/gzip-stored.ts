/**
 * A gzip member holding its data uncompressed (deflate "stored" blocks, RFC 1951 §3.2.4). Its
 * length depends only on the data's length, so the manifest member can be written first with
 * placeholder hashes and overwritten in place, byte for byte, once the real hashes are known.
 */
import { crc32 } from 'node:zlib';

const HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0x03]);
const MAX_STORED = 0xffff;

/** Length of the stored gzip member for `n` bytes of data. */
export function storedGzipLength(n: number): number {
  const blocks = Math.max(1, Math.ceil(n / MAX_STORED));
  return HEADER.length + blocks * 5 + n + 8;
}

/** Wrap `data` in one gzip member made of stored deflate blocks. */
export function storedGzip(data: Buffer): Buffer {
  const out = Buffer.alloc(storedGzipLength(data.length));
  let o = HEADER.copy(out, 0);
  let i = 0;
  do {
    const len = Math.min(MAX_STORED, data.length - i);
    const final = i + len >= data.length;
    out[o++] = final ? 1 : 0;
    out.writeUInt16LE(len, o);
    out.writeUInt16LE(len ^ 0xffff, o + 2);
    o += 4;
    o += data.copy(out, o, i, i + len);
    i += len;
  } while (i < data.length);
  out.writeUInt32LE(crc32(data) >>> 0, o);
  out.writeUInt32LE(data.length % 2 ** 32, o + 4);
  return out;
}
