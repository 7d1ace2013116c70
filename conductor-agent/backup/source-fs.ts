/**
 * The file-system calls the backup pipeline makes on the files it backs up, as a port: tests
 * replace single methods with sinon to inject EACCES, vanishing files and growing files (the tests
 * run as root, which reads everything, so real permission bits cannot produce those failures).
 *
 * Calls are synchronous on purpose: ten thousand minion keys cost one thread-pool round trip per
 * call when async (measured: 0.4 s of lstat alone on the benchmark tree against 0.03 s sync), and
 * the thread pool is busy compressing (archive-writer.ts).
 */
import * as fs from 'node:fs';

export interface SourceFs {
  lstatSync(path: string): fs.Stats;
  statSync(path: string): fs.Stats;
  readdirSync(path: string): string[];
  realpathSync(path: string): string;
  /** Open for reading without following a final symlink. */
  openSync(path: string): number;
  fstatSync(fd: number): fs.Stats;
  readSync(fd: number, buf: Buffer, offset: number, length: number, position: number | null): number;
  closeSync(fd: number): void;
}

export const systemSourceFs: SourceFs = {
  lstatSync: (p) => fs.lstatSync(p),
  statSync: (p) => fs.statSync(p),
  readdirSync: (p) => fs.readdirSync(p),
  realpathSync: (p) => fs.realpathSync(p),
  openSync: (p) => fs.openSync(p, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW),
  fstatSync: (fd) => fs.fstatSync(fd),
  readSync: (fd, buf, offset, length, position) => fs.readSync(fd, buf, offset, length, position),
  closeSync: (fd) => fs.closeSync(fd),
};
