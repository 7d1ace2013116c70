/**
 * The conductor-agent's identity on the agent channel (DESIGN.md trust model, rule 2): an Ed25519
 * signing key for commands and a TLS certificate for the wss listener, created once in
 * `agents.stateDir` (private files 0600, folder 0700) and carried in backups, so a restored
 * conductor can still command its routers even if the Salt master key was lost. Routers pin the
 * public key and the certificate's SHA-256 fingerprint (installed by the salt state).
 */
import { X509Certificate } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { FsError } from '../../shared/errors.js';
import { ensureDir, writeFileAtomic, PRIVATE_DIR_MODE } from '../../shared/fs/atomic.js';
import {
  generateSigningKeyPair,
  keyFingerprint,
  loadPrivateKey,
  type SigningKeyPair,
} from '../../shared/protocol/signing-keys.js';

export const AGENT_KEY_FILES = {
  signingKey: 'agent-signing.pem',
  signingPub: 'agent-signing.pub',
  tlsKey: 'agent-tls.key',
  tlsCert: 'agent-tls.crt',
} as const;

export interface ConductorAgentIdentity {
  signing: SigningKeyPair;
  /** SHA-256 of the signing key's SPKI DER (what `conductor.agentPublicKey` pins). */
  signingFingerprint: string;
  tlsKeyPem: string;
  tlsCertPem: string;
  /** SHA-256 of the certificate DER, colon hex upper case as OpenSSL prints it (`conductor.certFingerprint`). */
  certFingerprint: string;
  /** True when this call created anything. */
  created: boolean;
  files: { signingKey: string; signingPub: string; tlsKey: string; tlsCert: string };
}

async function readIfPresent(p: string): Promise<string | undefined> {
  try {
    return await fsp.readFile(p, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

async function refuseLoosePrivateFile(p: string): Promise<void> {
  const st = await fsp.stat(p);
  if ((st.mode & 0o077) !== 0) {
    throw new FsError('FS_UNSAFE_PERMISSIONS', `${p} is readable by others (mode ${(st.mode & 0o777).toString(8)})`, {
      details: { path: p },
      hint: `chmod 600 ${p}`,
    });
  }
}

/** Load the identity from `stateDir`, creating missing parts (a certificate is re-made only if its key is missing). */
export async function loadOrCreateConductorIdentity(
  stateDir: string,
  options: { commonName?: string } = {},
): Promise<ConductorAgentIdentity> {
  await ensureDir(stateDir, PRIVATE_DIR_MODE);
  const files = {
    signingKey: join(stateDir, AGENT_KEY_FILES.signingKey),
    signingPub: join(stateDir, AGENT_KEY_FILES.signingPub),
    tlsKey: join(stateDir, AGENT_KEY_FILES.tlsKey),
    tlsCert: join(stateDir, AGENT_KEY_FILES.tlsCert),
  };
  let created = false;
  let signing: SigningKeyPair;
  const signingPem = await readIfPresent(files.signingKey);
  if (signingPem !== undefined) {
    await refuseLoosePrivateFile(files.signingKey);
    signing = loadPrivateKey(signingPem, files.signingKey);
  } else {
    const fresh = generateSigningKeyPair();
    await writeFileAtomic(files.signingKey, fresh.privatePem, { mode: 0o600 });
    signing = fresh;
    created = true;
  }
  if ((await readIfPresent(files.signingPub)) !== signing.publicPem)
    await writeFileAtomic(files.signingPub, signing.publicPem, { mode: 0o644 });
  let tlsKeyPem = await readIfPresent(files.tlsKey);
  let tlsCertPem = await readIfPresent(files.tlsCert);
  if (tlsKeyPem === undefined || tlsCertPem === undefined) {
    const selfsigned = await import('selfsigned');
    const now = new Date();
    const pems = await selfsigned.generate(
      [{ name: 'commonName', value: options.commonName ?? 'ssr-recovery conductor-agent' }],
      {
        keyType: 'ec',
        curve: 'P-256',
        algorithm: 'sha256',
        notBeforeDate: new Date(now.getTime() - 86_400_000),
        notAfterDate: new Date(now.getTime() + 20 * 365 * 86_400_000),
      },
    );
    tlsKeyPem = pems.private;
    tlsCertPem = pems.cert;
    await writeFileAtomic(files.tlsKey, tlsKeyPem, { mode: 0o600 });
    await writeFileAtomic(files.tlsCert, tlsCertPem, { mode: 0o644 });
    created = true;
  } else await refuseLoosePrivateFile(files.tlsKey);
  const certFingerprint = new X509Certificate(tlsCertPem).fingerprint256;
  return {
    signing,
    signingFingerprint: keyFingerprint(signing.publicKey),
    tlsKeyPem,
    tlsCertPem,
    certFingerprint,
    created,
    files,
  };
}

/** What routers pin, read without creating anything (for `keys status`, install states); undefined if not created yet. */
export async function readConductorIdentityPublic(
  stateDir: string,
): Promise<{ agentPublicKey: string; signingFingerprint: string; certFingerprint: string } | undefined> {
  const pub = await readIfPresent(join(stateDir, AGENT_KEY_FILES.signingPub));
  const cert = await readIfPresent(join(stateDir, AGENT_KEY_FILES.tlsCert));
  if (pub === undefined || cert === undefined) return undefined;
  return {
    agentPublicKey: pub,
    signingFingerprint: keyFingerprint(pub),
    certFingerprint: new X509Certificate(cert).fingerprint256,
  };
}
