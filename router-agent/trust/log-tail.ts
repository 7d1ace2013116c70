/**
 * Follows the minion log by polling (inotify is not reliable across log rotation and network file
 * systems, and the log is quiet: a healthy minion writes nothing). Restarts from the top when the
 * file is replaced or truncated. Reads at most `maxChunk` bytes per poll so a flood cannot grow
 * memory.
 */
import { promises as fsp } from 'node:fs';

export interface LogTailOptions {
  path: string;
  /** Start this many bytes before the end (recent history), or at the end when 0. */
  backlogBytes?: number;
  maxChunk?: number;
}

export class LogTail {
  readonly path: string;
  #offset = -1;
  #ino = -1;
  #partial = '';
  readonly #backlog: number;
  readonly #maxChunk: number;

  constructor(options: LogTailOptions) {
    this.path = options.path;
    this.#backlog = options.backlogBytes ?? 0;
    this.#maxChunk = options.maxChunk ?? 256 * 1024;
  }

  /** Current read position (after `start`/`poll`). */
  get offset(): number {
    return this.#offset;
  }

  /** Position at the end minus the backlog; a missing file starts at 0 when it appears. */
  async start(): Promise<void> {
    try {
      const st = await fsp.stat(this.path);
      this.#ino = st.ino;
      this.#offset = Math.max(0, st.size - this.#backlog);
      this.#partial = '';
      if (this.#backlog > 0 && this.#offset > 0) this.#partial = '\u0000'; // drop the first (probably cut) line
    } catch {
      this.#offset = 0;
      this.#ino = -1;
    }
  }

  /** Complete lines written since the last poll. */
  async poll(): Promise<string[]> {
    if (this.#offset < 0) await this.start();
    let st;
    try {
      st = await fsp.stat(this.path);
    } catch {
      return [];
    }
    if (st.ino !== this.#ino || st.size < this.#offset) {
      this.#ino = st.ino;
      this.#offset = 0;
      this.#partial = '';
    }
    if (st.size === this.#offset) return [];
    const len = Math.min(st.size - this.#offset, this.#maxChunk);
    const fh = await fsp.open(this.path, 'r');
    let text: string;
    try {
      const buf = Buffer.alloc(len);
      const { bytesRead } = await fh.read(buf, 0, len, this.#offset);
      this.#offset += bytesRead;
      text = buf.subarray(0, bytesRead).toString('utf8');
    } finally {
      await fh.close();
    }
    const parts = (this.#partial + text).split('\n');
    this.#partial = parts.pop() ?? '';
    if (parts.length && parts[0]!.startsWith('\u0000')) parts.shift();
    return parts.filter((l) => l.length > 0);
  }
}
