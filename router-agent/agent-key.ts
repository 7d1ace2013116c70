/**
 * The router agent's own Ed25519 key pair, created on first start in its state folder (private key
 * 0600 in a 0700 folder). Its public half is enrolled with the conductor over a Salt event; reports
 * are signed with it.
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { ensureDir, writeFileAtomic, PRIVATE_DIR_MODE } from '../shared/fs/atomic.js';
import {
  generateSigningKeyPair,
  keyFingerprint,
  loadPrivateKey,
  type SigningKeyPair,
} from '../shared/protocol/signing-keys.js';

export interface AgentKey extends SigningKeyPair {
  fingerprint: string;
  /** True when this start created the key. */
  created: boolean;
}

export const AGENT_KEY_FILE = 'agent-key.pem';
export const AGENT_PUB_FILE = 'agent-key.pub';

/** Load the agent key, creating it on first start. */
export async function loadOrCreateAgentKey(stateDir: string): Promise<AgentKey> {
  const file = join(stateDir, AGENT_KEY_FILE);
  let pem: string | undefined;
  try {
    pem = await fsp.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (pem !== undefined) {
    const pair = loadPrivateKey(pem, file);
    return { ...pair, fingerprint: keyFingerprint(pair.publicKey), created: false };
  }
  await ensureDir(stateDir, PRIVATE_DIR_MODE);
  const fresh = generateSigningKeyPair();
  await writeFileAtomic(file, fresh.privatePem, { mode: 0o600 });
  await writeFileAtomic(join(stateDir, AGENT_PUB_FILE), fresh.publicPem, { mode: 0o644 });
  return {
    privateKey: fresh.privateKey,
    publicKey: fresh.publicKey,
    publicPem: fresh.publicPem,
    fingerprint: keyFingerprint(fresh.publicKey),
    created: true,
  };
}
