/**
 * `keys accept --verified` (DESIGN trust model rule 4): accept a pending minion key only when its
 * Salt fingerprint equals the one that router's agent reported. Everything else stays pending and is
 * listed. The accept itself moves exactly the bytes that were verified: the key is re-read and
 * re-checked just before it is written to `minions/`, so a key swapped in `minions_pre/` meanwhile is
 * never accepted (no check-then-use gap).
 */
import { promises as fsp } from 'node:fs';
import { KeysError } from '../../shared/errors.js';
import { writeFileAtomic } from '../../shared/fs/atomic.js';
import { pemFinger, type SaltHashType } from '../../shared/salt/fingerprint.js';
import type { PlannedChange } from './changes.js';
import type { ExpectedFingerprints } from './expected-fingerprints.js';
import { readMasterConfig } from './master-config.js';
import { listMinionKeys, minionKeyPath, readOptional } from './pki.js';

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
