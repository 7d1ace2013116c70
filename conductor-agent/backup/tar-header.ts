/**
 * POSIX tar (ustar + pax) headers, written by hand so the backup pipeline controls every byte:
 * the manifest member must have a length known before any file is read (see archive-writer.ts).
 *
 * Names up to 100 bytes go in `name`; longer ones are split into ustar `prefix`/`name` when a `/`
 * allows it, else a pax `x` record carries `path` (GNU tar and node-tar read both). Numbers that
 * do not fit the octal fields (uid/gid ≥ 2^21, size ≥ 8 GiB) and long owner names also go to pax.
 */

export const BLOCK = 512;

export interface TarHeaderFields {
  /** Member name without a leading `/`; folders get a trailing `/` added here. */
  name: string;
  type: 'file' | 'dir';
  size: number;
  mode: number;
  uid: number;
  gid: number;
  uname?: string | undefined;
  gname?: string | undefined;
  /** Seconds since the epoch (integer part is stored; pax keeps nothing finer on purpose). */
  mtime: number;
}

const MAX_OCTAL_7 = 0o7777777;
const MAX_OCTAL_11 = 0o77777777777;

/** Bytes of padding after `size` bytes of content to reach a 512-byte boundary. */
export function padding(size: number): number {
  const r = size % BLOCK;
  return r === 0 ? 0 : BLOCK - r;
}

function writeString(buf: Buffer, off: number, len: number, value: string): void {
  buf.write(value, off, len, 'utf8');
}

function writeOctal(buf: Buffer, off: number, len: number, value: number): void {
  // len-1 octal digits, zero padded, then NUL (what GNU tar writes).
  const s = Math.floor(value)
    .toString(8)
    .padStart(len - 1, '0');
  buf.write(`${s}\0`, off, len, 'ascii');
}

/** Split a long name into ustar prefix (≤155 bytes) and name (≤100 bytes) at a `/`, if possible. */
function splitUstar(name: string): { prefix: string; name: string } | undefined {
  if (Buffer.byteLength(name) <= 100) return { prefix: '', name };
  for (
    let i = name.indexOf('/');
    i !== -1 && Buffer.byteLength(name.slice(0, i)) <= 155;
    i = name.indexOf('/', i + 1)
  ) {
    const rest = name.slice(i + 1);
    if (rest.length > 0 && Buffer.byteLength(rest) <= 100) return { prefix: name.slice(0, i), name: rest };
  }
  return undefined;
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  // The length prefix counts its own digits: grow until stable.
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return `${len}${body}`;
}

function ustarBlock(fields: {
  name: string;
  prefix: string;
  type: string;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  mtime: number;
}): Buffer {
  const b = Buffer.alloc(BLOCK);
  writeString(b, 0, 100, fields.name);
  writeOctal(b, 100, 8, fields.mode & 0o7777);
  writeOctal(b, 108, 8, Math.min(fields.uid, MAX_OCTAL_7));
  writeOctal(b, 116, 8, Math.min(fields.gid, MAX_OCTAL_7));
  writeOctal(b, 124, 12, Math.min(fields.size, MAX_OCTAL_11));
  writeOctal(b, 136, 12, Math.min(Math.max(0, fields.mtime), MAX_OCTAL_11));
  b.fill(0x20, 148, 156);
  b.write(fields.type, 156, 1, 'ascii');
  b.write('ustar\0', 257, 6, 'ascii');
  b.write('00', 263, 2, 'ascii');
  writeString(b, 265, 32, fields.uname);
  writeString(b, 297, 32, fields.gname);
  writeOctal(b, 329, 8, 0);
  writeOctal(b, 337, 8, 0);
  writeString(b, 345, 155, fields.prefix);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += b[i]!;
  b.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return b;
}

/** The header block(s) for one member: a pax `x` header first when needed, then the ustar block. */
export function encodeHeader(h: TarHeaderFields): Buffer {
  const name = h.type === 'dir' && !h.name.endsWith('/') ? `${h.name}/` : h.name;
  const pax: string[] = [];
  let split = splitUstar(name);
  if (!split) {
    pax.push(paxRecord('path', name));
    split = { prefix: '', name: truncateBytes(name, 100) };
  }
  if (h.uid > MAX_OCTAL_7) pax.push(paxRecord('uid', String(h.uid)));
  if (h.gid > MAX_OCTAL_7) pax.push(paxRecord('gid', String(h.gid)));
  if (h.size > MAX_OCTAL_11) pax.push(paxRecord('size', String(h.size)));
  const uname = h.uname ?? '';
  const gname = h.gname ?? '';
  if (Buffer.byteLength(uname) > 31) pax.push(paxRecord('uname', uname));
  if (Buffer.byteLength(gname) > 31) pax.push(paxRecord('gname', gname));
  const main = ustarBlock({
    name: split.name,
    prefix: split.prefix,
    type: h.type === 'dir' ? '5' : '0',
    size: h.type === 'dir' ? 0 : h.size,
    mode: h.mode,
    uid: h.uid,
    gid: h.gid,
    uname: Buffer.byteLength(uname) > 31 ? '' : uname,
    gname: Buffer.byteLength(gname) > 31 ? '' : gname,
    mtime: h.mtime,
  });
  if (pax.length === 0) return main;
  const body = Buffer.from(pax.join(''), 'utf8');
  const paxHeader = ustarBlock({
    name: truncateBytes(`PaxHeader/${name.replace(/\/$/, '').split('/').pop() ?? 'x'}`, 100),
    prefix: '',
    type: 'x',
    size: body.length,
    mode: 0o644,
    uid: 0,
    gid: 0,
    uname: '',
    gname: '',
    mtime: h.mtime,
  });
  return Buffer.concat([paxHeader, body, Buffer.alloc(padding(body.length)), main]);
}

function truncateBytes(s: string, max: number): string {
  let out = s;
  while (Buffer.byteLength(out) > max) out = out.slice(0, -1);
  return out;
}

/** Total archive bytes a member takes: header block(s) + content + padding. */
export function memberLength(h: TarHeaderFields): number {
  const size = h.type === 'dir' ? 0 : h.size;
  return encodeHeader(h).length + size + padding(size);
}

/** Two zero blocks end a tar archive. */
export const END_OF_ARCHIVE = Buffer.alloc(BLOCK * 2);
