/**
 * The key gate (DESIGN trust model rule 4): a rebuilt master whose minion keys were not restored
 * holds each returning minion's key pending. A pending key is accepted only when its Salt
 * fingerprint equals the minion key fingerprint that router reported beforehand — signed by its
 * agent, or read over pinned SSH. Anything else stays pending and is reported as a possible
 * impostor. The accept writes exactly the bytes that were checked (keys/accept.ts).
 */
import { pemFinger, type SaltHashType } from '../../shared/salt/fingerprint.js';
import { pkiKeyAcceptor, type KeyAcceptor } from '../keys/accept.js';
import { listMinionKeys, minionKeyPath, readOptional } from '../keys/pki.js';

export type GateResult =
  | { state: 'none' }
  | { state: 'accepted'; fingerprint: string }
  | { state: 'mismatch'; fingerprint: string | null; expected: string }
  | { state: 'unverified'; fingerprint: string | null }
  | { state: 'failed'; code: string; message: string };

export interface KeyGate {
  /** Look at `id`'s pending key once and accept it if it is the expected one. */
  check(id: string, expected: string | undefined): Promise<GateResult>;
  /**
   * The ids with a pending key now (one listing of `minions_pre`). A wave polls this once per tick
   * for all its in-flight routers and calls `check` only for those listed.
   */
  pendingIds?(): Promise<ReadonlySet<string>>;
}

/** The gate over the master pki folder. */
export function pkiKeyGate(pkiDir: string, o: { hashType?: SaltHashType; acceptor?: KeyAcceptor } = {}): KeyGate {
  const hashType = o.hashType ?? 'sha256';
  const acceptor = o.acceptor ?? pkiKeyAcceptor(pkiDir, hashType);
  return {
    async pendingIds() {
      return new Set((await listMinionKeys(pkiDir, ['pending'])).pending);
    },
    async check(id, expected) {
      const text = await readOptional(minionKeyPath(pkiDir, 'pending', id));
      if (text === undefined) return { state: 'none' };
      let fingerprint: string;
      try {
        fingerprint = pemFinger(text, hashType);
      } catch {
        // Salt writes minions_pre/<id> in place: a read can see it half-written. Not a verdict
        // yet; a key that never parses is never accepted (the router ends FLEET_NOT_CONFIRMED).
        return { state: 'none' };
      }
      if (expected === undefined) return { state: 'unverified', fingerprint };
      if (fingerprint !== expected) return { state: 'mismatch', fingerprint, expected };
      try {
        await acceptor.accept(id, fingerprint);
      } catch (err) {
        const e = err as { code?: string; message: string };
        return { state: 'failed', code: e.code ?? 'KEYS_REFUSED', message: e.message };
      }
      return { state: 'accepted', fingerprint };
    },
  };
}
