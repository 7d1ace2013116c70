/**
 * `keys accept --verified` (DESIGN trust model rule 4): accept a pending minion key only when its
 * Salt fingerprint equals the one that router's agent reported. Everything else stays pending and is
 * listed. The accept itself moves exactly the bytes that were verified: the key is re-read and
 * re-checked just before it is written to `minions/`, so a key swapped in `minions_pre/` meanwhile is
 * never accepted (no check-then-use gap).
 */
import * as fs from 'node:fs';
import { closeSync, fstatSync, openSync, promises as fsp, readSync, unlinkSync } from 'node:fs';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { FsError, KeysError } from '../../shared/errors.js';
import { fsyncDir, parseTempName, tempPathFor, writeFileAtomic } from '../../shared/fs/atomic.js';
import { pidAlive } from '../../shared/fs/lock.js';
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
   * Accept keys the caller read ({@link readPendingKey}) and verified itself, as one batch: a key is
   * accepted only if the file moved is byte for byte the one verified. Per id: undefined = accepted,
   * else why not.
   */
  acceptRead?(keys: readonly PendingKeyRead[]): Promise<Map<string, Error | undefined>>;
}

/** One read of `minions_pre/<id>`: its bytes, as text. */
export interface PendingKeyRead {
  id: string;
  text: string;
}

/**
 * Read a pending key (open, fstat, read, close; undefined when there is none). Synchronous: a
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
    return { id, text: buf.toString('utf8', 0, n) };
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

/** Callback fs calls as promises (FileHandles cost more than these small calls). */
const fsAsync = {
  open: promisify(fs.open),
  read: (fd: number, b: Buffer, off: number): Promise<number> =>
    new Promise((resolve, reject) => fs.read(fd, b, off, b.length - off, null, (e, n) => (e ? reject(e) : resolve(n)))),
  fsync: promisify(fs.fsync),
  close: promisify(fs.close),
  rename: promisify(fs.rename),
  link: promisify(fs.link),
  unlink: promisify(fs.unlink),
};

/**
 * Accept read-and-verified keys as one batch, moving each pending file as `salt-key -a` does (a
 * rename, no new file: on ext4 each new inode cost ~0.5 ms of kernel time during a wave, most of the
 * CLI's CPU, as the allocator skips the many recently deleted ones). Per key: the pending file is
 * renamed to a claim name in `minions/` (from then on Salt, which writes by path, cannot touch it),
 * read again and compared with the verified bytes — a key swapped after the check goes back to
 * `minions_pre` and is refused —, fsync'd, and renamed to `minions/<id>`; then one folder fsync for
 * the batch.
 */
export async function acceptReadKeys(
  pkiDir: string,
  keys: readonly PendingKeyRead[],
): Promise<Map<string, Error | undefined>> {
  const out = new Map<string, Error | undefined>();
  const moved: PendingKeyRead[] = [];
  await Promise.all(
    keys.map(async (key) => {
      const err = await moveVerified(pkiDir, key);
      if (err) out.set(key.id, err);
      else moved.push(key);
    }),
  );
  if (moved.length === 0) return out;
  try {
    await fsyncDir(join(pkiDir, STATUS_DIRS.accepted));
  } catch (err) {
    // Accepted but maybe not durable: say so (the wave reports the router failed, not done).
    for (const k of moved) out.set(k.id, writeFailed(minionKeyPath(pkiDir, 'accepted', k.id), err));
    return out;
  }
  for (const k of moved) out.set(k.id, undefined);
  return out;
}

/** One key: claim, compare, fsync, rename into place. Returns why not, or undefined when accepted. */
async function moveVerified(pkiDir: string, key: PendingKeyRead): Promise<Error | undefined> {
  const pending = minionKeyPath(pkiDir, 'pending', key.id);
  const target = minionKeyPath(pkiDir, 'accepted', key.id);
  const claim = tempPathFor(target); // dot-prefixed and `.tmp`: Salt's listings skip it
  try {
    await fsAsync.rename(pending, claim);
  } catch (err) {
    // ENOENT: the pending key is gone (removed or being replaced) — or `minions/` is missing.
    const gone = (err as NodeJS.ErrnoException).code === 'ENOENT' && !(await fsp.lstat(pending).catch(() => false));
    return gone ? changed(key.id) : writeFailed(target, err);
  }
  try {
    const fd = await fsAsync.open(claim, fs.constants.O_RDONLY);
    try {
      const buf = Buffer.allocUnsafe(Buffer.byteLength(key.text) + 1);
      let n = 0;
      for (let r = 1; r > 0 && n < buf.length; n += r) r = await fsAsync.read(fd, buf, n);
      if (n !== buf.length - 1 || buf.toString('utf8', 0, n) !== key.text) {
        await putBack(claim, pending);
        return changed(key.id);
      }
      await fsAsync.fsync(fd); // the master wrote it without a sync
    } finally {
      await fsAsync.close(fd);
    }
    await fsAsync.rename(claim, target);
    dropPendingCopy(pkiDir, key.id, key.text);
    return undefined;
  } catch (err) {
    await putBack(claim, pending);
    return writeFailed(target, err);
  }
}

/**
 * Return a claimed key to `minions_pre`, unless the master wrote a newer one there meanwhile (then
 * the claim is dropped). Never loses the only copy: without hard links it is renamed back, and if
 * that fails too it stays under its claim name.
 */
async function putBack(claim: string, pending: string): Promise<void> {
  try {
    await fsAsync.link(claim, pending);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
      await fsAsync.rename(claim, pending).catch(() => undefined);
      return;
    }
  }
  await fsAsync.unlink(claim).catch(() => undefined);
}

/**
 * Put back the claims an accept killed mid-move left in `minions/` (their `tempPathFor` names carry
 * the pid of the accept, now gone): each goes back to `minions_pre` to be checked again, or is dropped
 * when the master wrote the key pending again meanwhile. Returns the ids put back or dropped.
 */
export async function recoverClaims(pkiDir: string): Promise<string[]> {
  const dir = join(pkiDir, STATUS_DIRS.accepted);
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch {
    return [];
  }
  const ids: string[] = [];
  for (const name of names) {
    const claim = parseTempName(name);
    if (!claim || pidAlive(claim.pid)) continue;
    await putBack(join(dir, name), minionKeyPath(pkiDir, 'pending', claim.target));
    ids.push(claim.target);
  }
  return ids;
}

/**
 * The master may have re-written the same key pending while it was being accepted (its lookup saw
 * neither `minions_pre/<id>`, claimed, nor yet `minions/<id>` — Salt's `_auth` has the same window):
 * drop `id`'s pending file when it holds exactly `acceptedText`. A different pending key is left.
 */
export function dropPendingCopy(pkiDir: string, id: string, acceptedText: string): void {
  try {
    if (readPendingKey(pkiDir, id)?.text === acceptedText) unlinkSync(minionKeyPath(pkiDir, 'pending', id));
  } catch {
    /* gone, or unreadable: the next listing shows it */
  }
}

function changed(id: string): KeysError {
  return new KeysError('KEYS_REFUSED', `the pending key of ${id} changed after it was verified; it was not accepted`, {
    details: { id },
  });
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
  // A wave or accept killed mid-move left its claim hidden in minions/: pending again, checked below.
  if (!o.dryRun) await recoverClaims(o.pkiDir);
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
