/** What the fleet wave's gate tests share: a minion key, a plan of agent routers, a master pki folder. */
import { generateKeyPairSync } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { PlanEntry, WavePlan } from '../../../../conductor-agent/fleet/plan.js';
import { makeTmpDir } from '../../../helpers/tmpdir.js';

/** A fresh RSA minion public key (SPKI PEM, as Salt writes it). */
export const pub = (): string =>
  generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();

/** Every id a stale router reached over its agent, each expected to present `expected`. */
export function plan(ids: string[], expected: string): WavePlan {
  const routers: PlanEntry[] = ids.map((routerId) => ({
    routerId,
    trust: 'stale-master-key',
    keyStatus: 'none',
    action: 'reauth',
    channel: 'agent',
    reason: 'agent connected and enrolled',
    routes: [{ channel: 'agent' }],
    pinFingerprint: 'aa',
    expectedMinionFingerprint: expected,
  }));
  return { masterFingerprint: 'aa', routers, counts: { reauth: ids.length, skip: 0, blocked: 0 } };
}

/** A temp master pki folder with `minions/` and `minions_pre/`. */
export async function pkiDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const t = await makeTmpDir();
  for (const d of ['minions', 'minions_pre']) await mkdir(join(t.dir, d), { recursive: true });
  return t;
}
