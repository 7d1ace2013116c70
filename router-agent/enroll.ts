/**
 * Enrollment over Salt (DESIGN.md trust model, rule 3): announce the agent's public key with
 * `salt-call event.send <ENROLL_TAG> <json>`. The `id` beside an event is not proof of its sender
 * (batched events are fired verbatim), so the announcement is a statement signed with the minion's
 * own Salt key `<minion.pkiDir>/minion.pem` (RSASSA-PSS SHA-256, shared/protocol/enroll.ts); the
 * conductor checks it against the minion key its master accepted. Works only while the minion
 * trusts the master (salt-call authenticates first). The private key is never logged.
 */
import { promises as fsp } from 'node:fs';
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { splitCommandLine, type ProcessRunner } from '../shared/ports/process-runner.js';
import type { Clock } from '../shared/ports/clock.js';
import type { Random } from '../shared/ports/random.js';
import { keyFingerprint } from '../shared/protocol/signing-keys.js';
import {
  ENROLL_ALG,
  ENROLL_PURPOSE,
  ENROLL_TAG,
  signEnrollStatement,
  type EnrollPayload,
} from '../shared/protocol/enroll.js';

export interface EnrollIdentity {
  minionId: string;
  /** The minion's pki folder (holds `minion.pem`). */
  pkiDir: string;
  agentPublicKey: string;
  agentVersion: string;
}

export interface AnnounceOptions extends EnrollIdentity {
  runner: ProcessRunner;
  /** Command line of salt-call (`agent.saltCall`). */
  saltCall: string;
  clock: Pick<Clock, 'now'>;
  random: Pick<Random, 'id'>;
  timeoutMs?: number;
}

async function readMinionKey(pkiDir: string): Promise<KeyObject> {
  const file = join(pkiDir, 'minion.pem');
  let pem: string;
  try {
    pem = await fsp.readFile(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read the minion key ${file}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`);
  }
  try {
    const key = createPrivateKey(pem);
    if (key.asymmetricKeyType !== 'rsa') throw new Error('not RSA');
    return key;
  } catch {
    throw new Error(`the minion key ${file} is not an RSA private key`);
  }
}

/** The signed announcement (reads `minion.pem`). */
export async function buildEnrollPayload(
  o: EnrollIdentity & { clock: Pick<Clock, 'now'>; random: Pick<Random, 'id'> },
): Promise<EnrollPayload> {
  const minionKey = await readMinionKey(o.pkiDir);
  const { statement, signature } = signEnrollStatement(
    {
      purpose: ENROLL_PURPOSE,
      router: o.minionId,
      agentPublicKey: o.agentPublicKey,
      agentVersion: o.agentVersion,
      issuedAt: o.clock.now(),
      nonce: o.random.id(18),
    },
    minionKey,
  );
  return {
    agentPublicKey: o.agentPublicKey,
    agentKeyFingerprint: keyFingerprint(o.agentPublicKey),
    agentVersion: o.agentVersion,
    statement,
    signature,
    alg: ENROLL_ALG,
  };
}

/** The argv used (JSON is valid YAML, which salt-call parses for `data`). */
export function announceArgv(saltCall: string, payload: EnrollPayload): string[] {
  return [...splitCommandLine(saltCall), 'event.send', ENROLL_TAG, JSON.stringify(payload)];
}

/** Sign and fire the enrollment event; resolves ok when salt-call succeeded. */
export async function announceKey(o: AnnounceOptions): Promise<{ ok: boolean; detail: string }> {
  try {
    const payload = await buildEnrollPayload(o);
    const r = await o.runner.run(announceArgv(o.saltCall, payload), { timeoutMs: o.timeoutMs ?? 60_000 });
    if (r.code === 0) return { ok: true, detail: 'sent' };
    return { ok: false, detail: `salt-call exited ${r.code ?? r.signal}: ${r.stderr.trim().slice(-300)}` };
  } catch (err) {
    return { ok: false, detail: (err as Error).message };
  }
}
