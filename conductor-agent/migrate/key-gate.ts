/**
 * The verified key gate on the new master (DESIGN trust model rule 4, the `keys accept --verified`
 * rule): a router node's minion key is accepted on the new master only when its Salt fingerprint equals
 * the key the OLD master accepted for that id (`minions/<id>` on this conductor). A key that differs is
 * never accepted: a pending one stays pending, an accepted one (the SSR auto-accepts by asset id,
 * reference/ssr.md §3.5) is moved to `minions_rejected/`. The decision is `planVerifiedAccept`'s, and
 * the bytes written are the bytes fingerprinted, so nothing can be swapped in between.
 */
import { join } from 'node:path';
import { RecoveryError } from '../../shared/errors.js';
import { pemFinger, type SaltHashType } from '../../shared/salt/fingerprint.js';
import { planVerifiedAccept } from '../keys/accept.js';
import { readOptional } from '../keys/pki.js';
import type { NewConductorFiles } from './files.js';

export type GateResult = 'already-accepted' | 'accepted' | 'waiting';

export interface KeyGate {
  /** One attempt for one minion id: accepted, or not there yet (`waiting`); throws when refused. */
  check(id: string): Promise<GateResult>;
}

const finger = (pem: Buffer | string, hash: SaltHashType): string | null => {
  try {
    return pemFinger(pem, hash);
  } catch {
    return null;
  }
};

export interface KeyGateOptions {
  /** The old master's pki folder (local path). */
  oldPkiDir: string;
  /** The new master's pki folder (system path on the new conductor). */
  newPkiDir: string;
  files: NewConductorFiles;
  hashType: SaltHashType;
}

export function verifiedKeyGate(o: KeyGateOptions): KeyGate {
  const remote = (dir: string, id: string): string => `${o.newPkiDir.replace(/\/+$/, '')}/${dir}/${id}`;
  return {
    async check(id) {
      if (!/^[A-Za-z0-9._-]+$/.test(id) || id.startsWith('.')) {
        throw new RecoveryError('KEYS_REFUSED', `refusing minion id ${JSON.stringify(id)}`);
      }
      const known = await readOptional(join(o.oldPkiDir, 'minions', id));
      const expected = known === undefined ? undefined : (finger(known, o.hashType) ?? undefined);
      const accepted = await o.files.read(remote('minions', id));
      if (accepted !== undefined) {
        const actual = finger(accepted, o.hashType);
        if (expected !== undefined && actual === expected) {
          // A run killed between "write minions/<id>" and "remove minions_pre/<id>" leaves both: finish it.
          const pending = await o.files.read(remote('minions_pre', id));
          if (pending !== undefined && finger(pending, o.hashType) === expected) {
            await o.files.remove(remote('minions_pre', id));
          }
          return 'already-accepted';
        }
        await o.files.write(remote('minions_rejected', id), accepted, 0o644);
        await o.files.remove(remote('minions', id));
        throw refused(id, expected, actual, 'accepted');
      }
      const pending = await o.files.read(remote('minions_pre', id));
      if (pending === undefined) return 'waiting';
      const fp = finger(pending, o.hashType);
      const plan = planVerifiedAccept([{ id, fingerprint: fp, expected, replacesAccepted: false }]);
      if (plan.accept.length !== 1) throw refused(id, expected, fp, 'pending');
      await o.files.write(remote('minions', id), pending, 0o644);
      await o.files.remove(remote('minions_pre', id));
      return 'accepted';
    },
  };
}

function refused(id: string, expected: string | undefined, actual: string | null, where: string): RecoveryError {
  return new RecoveryError(
    'KEYS_REFUSED',
    expected === undefined
      ? `minion ${id} has no accepted key on the old conductor, so its key on the new master cannot be verified`
      : `the ${where} key of minion ${id} on the new master (${actual ?? 'not a key'}) is not the one the old master ` +
          `accepted (${expected}); it was not accepted`,
    {
      details: { id, expected, actual, where },
      hint: 'Someone else may be presenting this id. Check the router out of band before accepting by hand.',
    },
  );
}
