/**
 * `keys accept --verified` (DESIGN trust model rule 4): accept a pending minion key only when its
 * Salt fingerprint equals the one that router's agent reported. Everything else stays pending and is
 * listed. The accept itself moves exactly the bytes that were verified: the key is re-read and
 * re-checked just before it is written to `minions/`, so a key swapped in `minions_pre/` meanwhile is
 * never accepted (no check-then-use gap).
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { closeSync, fstatSync, openSync, promises as fsp, readSync } from 'node:fs';
import { promisify } from 'node:util';
import { basename, dirname, join } from 'node:path';
import { FsError, KeysError } from '../../shared/errors.js';
import { writeFileAtomic } from '../../shared/fs/atomic.js';
import { pemFinger, type SaltHashType } from '../../shared/salt/fingerprint.js';
import type { PlannedChange } from './changes.js';
import type { ExpectedFingerprints } from './expected-fingerprints.js';
import { readMasterConfig } from './master-config.js';
import { listMinionKeys, minionKeyPath, readOptional, STATUS_DIRS } from './pki.js';

export interface PendingKeyFacts {
  id: string;
  /** null when the pending file is not a PEM key. */
  fingerprint: string | null;
  expected: string | undefined;
  /** An accepted key with this id already exists (accepting replaces it). */
  replacesAccepted: boolean;
}

export interface VerifiedAcceptPlan {
  accept: { id: string; fingerprint: string; replacesAccepted: boolean }[];
  mismatch: { id: string; expected: string; actual: string | null }[];
  /** No expectation known: left pending. */
  unverified: { id: string; fingerprint: string | null }[];
}

/** Pure: sort pending keys into accept / mismatch / unverified. */
export function planVerifiedAccept(
  pending: readonly PendingKeyFacts[],
  only?: ReadonlySet<string>,
): VerifiedAcceptPlan {
  const plan: VerifiedAcceptPlan = { accept: [], mismatch: [], unverified: [] };
  for (const k of pending) {
    if (only && !only.has(k.id)) continue;
    if (k.expected === undefined) plan.unverified.push({ id: k.id, fingerprint: k.fingerprint });
    else if (k.fingerprint === null || k.fingerprint !== k.expected)
      plan.mismatch.push({ id: k.id, expected: k.expected, actual: k.fingerprint });
    else plan.accept.push({ id: k.id, fingerprint: k.fingerprint, replacesAccepted: k.replacesAccepted });
  }
  return plan;
}

/** Moves one verified pending key to accepted; a port so a salt-api (wheel) variant can replace it. */
export interface KeyAcceptor {
  accept(id: string, verifiedFingerprint: string): Promise<void>;
  /**
   * Accept keys the caller read once ({@link readPendingKey}) and verified itself: exactly those
   * bytes are accepted, so there is no second read to re-check. Per id: undefined = accepted, else why not.
   */
  acceptRead?(keys: readonly PendingKeyRead[]): Promise<Map<string, Error | undefined>>;
}

/** One read of `minions_pre/<id>`: its bytes (as text) and file mode. */
export interface PendingKeyRead {
  id: string;
  text: string;
  mode: number;
}

/**
 * Read a pending key once (open, fstat, read, close; undefined when there is none). Synchronous: a
 * key is a few hundred bytes in the master's local pki folder, and the gate reads up to a thousand
 * a second, where the promise API's per-call machinery was most of the cost.
 */
export function readPendingKey(pkiDir: string, id: string): PendingKeyRead | undefined {
  const path = minionKeyPath(pkiDir, 'pending', id);
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw unreadable(path, err);
  }
  try {
    const st = fstatSync(fd);
    // A key is a few hundred bytes: one read of the size fstat gave (+1 to see a file still growing).
    const buf = Buffer.allocUnsafe(Math.min(Math.max(st.size + 1, 4096), MAX_KEY_BYTES));
    let n = 0;
    for (let r = 1; r > 0 && n < buf.length; n += r) r = readSync(fd, buf, n, buf.length - n, null);
    return { id, text: buf.toString('utf8', 0, n), mode: st.mode & 0o777 };
  } catch (err) {
    throw unreadable(path, err);
  } finally {
    closeSync(fd);
  }
}

/** No Salt minion key is near this; a bigger file is read only up to here (and will not parse). */
const MAX_KEY_BYTES = 64 * 1024;

function unreadable(path: string, err: unknown): KeysError {
  return new KeysError('KEYS_INVALID', `cannot read ${path}: ${(err as Error).message}`, {
    cause: err,
    details: { path },
  });
}

/** Callback fs calls as promises: a key write is six calls, and FileHandles cost more than the I/O. */
const fsAsync = {
  open: promisify(fs.open),
  write: (fd: number, b: Buffer, off: number): Promise<number> =>
    new Promise((resolve, reject) =>
      fs.write(fd, b, off, b.length - off, null, (e, n) => (e ? reject(e) : resolve(n))),
    ),
  fchmod: promisify(fs.fchmod),
  fsync: promisify(fs.fsync),
  close: promisify(fs.close),
  rename: promisify(fs.rename),
  unlink: promisify(fs.unlink),
};

/** Temp names beside the target: dot-prefixed and `.tmp` (Salt skips both), unique in this process. */
const tmpTag = `${process.pid}.${randomBytes(4).toString('hex')}`;
let tmpSeq = 0;

/**
 * Accept read-and-verified keys as one batch: each key's bytes go to a temp file in `minions/` with
 * the pending file's mode and are fsync'd (in parallel), renamed into place, then the folder is
 * fsync'd once for the batch and the pending files are removed. A key that fails is left pending.
 */
export async function acceptReadKeys(
  pkiDir: string,
  keys: readonly PendingKeyRead[],
): Promise<Map<string, Error | undefined>> {
  const out = new Map<string, Error | undefined>();
  const written: PendingKeyRead[] = [];
  await Promise.all(
    keys.map(async (key) => {
      const target = minionKeyPath(pkiDir, 'accepted', key.id);
      const tmp = join(dirname(target), `.${basename(target)}.${tmpTag}.${tmpSeq++}.tmp`);
      try {
        await writeSynced(tmp, key.text, key.mode);
        await fsAsync.rename(tmp, target);
        written.push(key);
      } catch (err) {
        await fsAsync.unlink(tmp).catch(() => undefined);
        out.set(key.id, writeFailed(target, err));
      }
    }),
  );
  if (written.length === 0) return out;
  try {
    const dir = await fsAsync.open(join(pkiDir, STATUS_DIRS.accepted), fs.constants.O_RDONLY);
    try {
      await fsAsync.fsync(dir);
    } finally {
      await fsAsync.close(dir);
    }
  } catch (err) {
    for (const k of written) out.set(k.id, writeFailed(minionKeyPath(pkiDir, 'accepted', k.id), err));
    return out;
  }
  await Promise.all(
    written.map(async (k) => {
      await fsAsync.unlink(minionKeyPath(pkiDir, 'pending', k.id)).catch(() => undefined);
      out.set(k.id, undefined);
    }),
  );
  return out;
}

/** A new file (O_EXCL) with exactly `mode` and `text`, on disk before it is closed. */
async function writeSynced(path: string, text: string, mode: number): Promise<void> {
  const fd = await fsAsync.open(path, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, mode);
  try {
    const bytes = Buffer.from(text);
    for (let off = 0; off < bytes.length; ) off += await fsAsync.write(fd, bytes, off);
    await fsAsync.fchmod(fd, mode);
    await fsAsync.fsync(fd);
  } finally {
    await fsAsync.close(fd);
  }
}

function writeFailed(target: string, err: unknown): FsError {
  return new FsError('FS_WRITE_FAILED', `could not write ${target}: ${(err as Error).message}`, {
    cause: err,
    details: { path: target },
    hint: 'Check that the folder exists, is writable and the disk is not full.',
  });
}

/** File-level acceptor over the master pki folder (what `salt-key -a` does, minus the event). */
export function pkiKeyAcceptor(pkiDir: string, hashType: SaltHashType = 'sha256'): KeyAcceptor {
  return {
    async accept(id, verified) {
      const pendingPath = minionKeyPath(pkiDir, 'pending', id);
      const text = await readOptional(pendingPath);
      const now =
        text === undefined
          ? null
          : (() => {
              try {
                return pemFinger(text, hashType);
              } catch {
                return null;
              }
            })();
      if (text === undefined || now !== verified) {
        throw new KeysError(
          'KEYS_REFUSED',
          `the pending key of ${id} changed after it was verified; it was not accepted`,
          { details: { id, verified, now } },
        );
      }
      const mode = (await fsp.stat(pendingPath)).mode & 0o777;
      await writeFileAtomic(minionKeyPath(pkiDir, 'accepted', id), text, { mode });
      await fsp.rm(pendingPath, { force: true });
    },
    acceptRead: (keys) => acceptReadKeys(pkiDir, keys),
  };
}

export interface AcceptVerifiedOptions {
  pkiDir: string;
  masterConfig: string;
  expected: ExpectedFingerprints;
  /** Limit to these minion ids (default: every pending key). */
  only?: readonly string[];
  dryRun?: boolean;
  /** Default: {@link pkiKeyAcceptor}. */
  acceptor?: KeyAcceptor;
}

export interface AcceptVerifiedReport extends VerifiedAcceptPlan {
  dryRun: boolean;
  source: string;
  accepted: string[];
  /** Keys that passed the plan but failed at accept time (e.g. swapped meanwhile). */
  failed: { id: string; code: string; message: string }[];
  changes: PlannedChange[];
}

/** Accept pending keys whose fingerprint matches the expectation; list the rest. */
export async function acceptVerified(o: AcceptVerifiedOptions): Promise<AcceptVerifiedReport> {
  const hashType = (await readMasterConfig(o.masterConfig)).settings.hashType;
  const lists = await listMinionKeys(o.pkiDir);
  const accepted = new Set(lists.accepted);
  const facts: PendingKeyFacts[] = [];
  for (const id of lists.pending) {
    const text = await readOptional(minionKeyPath(o.pkiDir, 'pending', id));
    let fingerprint: string | null = null;
    try {
      if (text !== undefined) fingerprint = pemFinger(text, hashType);
    } catch {
      fingerprint = null;
    }
    facts.push({ id, fingerprint, expected: await o.expected.lookup(id), replacesAccepted: accepted.has(id) });
  }
  const plan = planVerifiedAccept(facts, o.only ? new Set(o.only) : undefined);
  const changes: PlannedChange[] = plan.accept.map((a) => ({
    action: 'accept-key',
    target: minionKeyPath(o.pkiDir, 'accepted', a.id),
    detail: `${a.id} ${a.fingerprint} matches the expected fingerprint${a.replacesAccepted ? ' (replaces the accepted key)' : ''}`,
  }));
  const report: AcceptVerifiedReport = {
    ...plan,
    dryRun: o.dryRun === true,
    source: o.expected.source,
    accepted: [],
    failed: [],
    changes,
  };
  if (o.dryRun) return report;
  const acceptor = o.acceptor ?? pkiKeyAcceptor(o.pkiDir, hashType);
  for (const a of plan.accept) {
    try {
      await acceptor.accept(a.id, a.fingerprint);
      report.accepted.push(a.id);
    } catch (err) {
      const e = err as KeysError;
      report.failed.push({ id: a.id, code: e.code ?? 'INTERNAL', message: e.message });
    }
  }
  return report;
}
