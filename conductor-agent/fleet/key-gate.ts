/**
 * The key gate (DESIGN trust model rule 4): a rebuilt master whose minion keys were not restored
 * holds each returning minion's key pending. A pending key is accepted only when its Salt
 * fingerprint equals the minion key fingerprint that router reported beforehand — signed by its
 * agent, or read over pinned SSH. Anything else stays pending and is reported as a possible
 * impostor. The accept moves exactly the bytes that were checked: the pending file is claimed by a
 * rename, compared with the bytes fingerprinted, and moved into `minions/` (keys/accept.ts).
 */
import { pemFinger, type SaltHashType } from '../../shared/salt/fingerprint.js';
import { readFileSync } from 'node:fs';
import {
  dropPendingCopy,
  pkiKeyAcceptor,
  readPendingKey,
  recoverClaims,
  type KeyAcceptor,
  type PendingKeyRead,
} from '../keys/accept.js';
import { listMinionKeys, minionKeyPath } from '../keys/pki.js';

export type GateResult =
  | { state: 'none' }
  | { state: 'accepted'; fingerprint: string }
  | { state: 'mismatch'; fingerprint: string | null; expected: string }
  | { state: 'unverified'; fingerprint: string | null }
  | { state: 'failed'; code: string; message: string };

export interface GateItem {
  id: string;
  expected: string | undefined;
}

export interface KeyGate {
  /** Look at `id`'s pending key once and accept it if it is the expected one. */
  check(id: string, expected: string | undefined): Promise<GateResult>;
  /** `check` for several routers at once (one folder sync for all the keys it accepts). */
  checkMany?(items: readonly GateItem[]): Promise<Map<string, GateResult>>;
  /**
   * The ids with a pending key now (one listing of `minions_pre`). A wave polls this once per tick
   * for all its in-flight routers and calls `check` only for those listed.
   */
  pendingIds?(): Promise<ReadonlySet<string>>;
  /**
   * Once a router this gate accepted answered on that key: drop a pending copy of the same key the
   * master wrote while the accept ran (its sign-in lookup fell between the claim and the move), so
   * the wave leaves no key pending behind it.
   */
  settle?(id: string): Promise<void>;
}

/** The gate over the master pki folder. */
export function pkiKeyGate(pkiDir: string, o: { hashType?: SaltHashType; acceptor?: KeyAcceptor } = {}): KeyGate {
  const hashType = o.hashType ?? 'sha256';
  const acceptor = o.acceptor ?? pkiKeyAcceptor(pkiDir, hashType);
  const checkMany = async (items: readonly GateItem[]): Promise<Map<string, GateResult>> => {
    const out = new Map<string, GateResult>();
    const matching = new Map<string, { key: PendingKeyRead; fingerprint: string }>();
    for (const { id, expected } of items) {
      let key: PendingKeyRead | undefined;
      try {
        key = readPendingKey(pkiDir, id);
      } catch (err) {
        const e = err as { code?: string; message: string };
        out.set(id, { state: 'failed', code: e.code ?? 'KEYS_INVALID', message: e.message });
        continue;
      }
      const v = verdict(key, expected, hashType);
      if (typeof v === 'string') matching.set(id, { key: key!, fingerprint: v });
      else out.set(id, v);
    }
    const accepted = await acceptAll(acceptor, [...matching.values()]);
    for (const [id, m] of matching) {
      const err = accepted.has(id) ? accepted.get(id) : new Error('the acceptor did not answer for this key');
      out.set(id, err ? refused(err) : { state: 'accepted', fingerprint: m.fingerprint });
    }
    return out;
  };
  // A wave killed in the middle of an accept left its claim in `minions/`: back to pending first.
  let recovered: Promise<unknown> | undefined;
  return {
    async pendingIds() {
      await (recovered ??= recoverClaims(pkiDir).catch(() => undefined));
      return new Set((await listMinionKeys(pkiDir, ['pending'])).pending);
    },
    checkMany,
    async settle(id) {
      let text: string;
      try {
        if (readPendingKey(pkiDir, id) === undefined) return; // the usual case: one failed open
        text = readFileSync(minionKeyPath(pkiDir, 'accepted', id), 'utf8');
      } catch {
        return;
      }
      dropPendingCopy(pkiDir, id, text);
    },
    async check(id, expected) {
      return (await checkMany([{ id, expected }])).get(id)!;
    },
  };
}

/** The verdict on one read: a GateResult, or the fingerprint when the key is the expected one. */
function verdict(
  key: PendingKeyRead | undefined,
  expected: string | undefined,
  hashType: SaltHashType,
): GateResult | string {
  if (key === undefined) return { state: 'none' };
  let fingerprint: string;
  try {
    fingerprint = pemFinger(key.text, hashType);
  } catch {
    // Salt writes minions_pre/<id> in place: a read can see it half-written. Not a verdict
    // yet; a key that never parses is never accepted (the router ends FLEET_NOT_CONFIRMED).
    return { state: 'none' };
  }
  if (expected === undefined) return { state: 'unverified', fingerprint };
  if (fingerprint !== expected) return { state: 'mismatch', fingerprint, expected };
  return fingerprint;
}

/** Accept the matching keys: in one batch with the bytes read, or one by one (an acceptor that re-reads). */
async function acceptAll(
  acceptor: KeyAcceptor,
  matching: readonly { key: PendingKeyRead; fingerprint: string }[],
): Promise<Map<string, Error | undefined>> {
  if (matching.length === 0) return new Map();
  if (acceptor.acceptRead) return acceptor.acceptRead(matching.map((m) => m.key));
  const out = new Map<string, Error | undefined>();
  for (const m of matching) {
    out.set(
      m.key.id,
      await acceptor.accept(m.key.id, m.fingerprint).then(
        () => undefined,
        (err: unknown) => err as Error,
      ),
    );
  }
  return out;
}

function refused(err: Error): GateResult {
  return { state: 'failed', code: (err as { code?: string }).code ?? 'KEYS_REFUSED', message: err.message };
}
