/**
 * Who signs backups and whom readers trust (the I/O around shared/backup/signature.ts).
 *
 * Signer: the conductor-agent's Ed25519 identity in `agents.stateDir` (the key routers pin; created
 * there on first use, as the daemon would, so it is in this very backup and travels with it).
 * Trusted signers: the current identity, plus `backup.trustedSigners` and `--trusted-signer` —
 * PEM public keys, fingerprints, or absolute paths of files holding either (one per line). A
 * restored conductor has its old identity back, so it trusts its own old backups by default.
 */
import { promises as fsp } from 'node:fs';
import type { ConductorConfig } from '../../shared/config/schema.js';
import { ConfigError } from '../../shared/errors.js';
import { parseTrustedSigners, type ManifestSigner } from '../../shared/backup/signature.js';

/** The signer for new backups: the identity under `stateDir` (a path on this machine). */
export async function loadBackupSigner(stateDir: string): Promise<ManifestSigner> {
  const { loadOrCreateConductorIdentity } = await import('../identity/agent-key.js');
  const identity = await loadOrCreateConductorIdentity(stateDir);
  return { privateKey: identity.signing.privateKey, publicKey: identity.signing.publicKey };
}

export interface TrustedSigners {
  fingerprints: Set<string>;
  /** Where each fingerprint came from (`identity`, `backup.trustedSigners`, `--trusted-signer`). */
  sources: { fingerprint: string; from: string }[];
}

export interface TrustOptions {
  config: ConductorConfig;
  /** Resolve a system path under the root prefix. */
  path: (systemPath: string) => string;
  /** `--trusted-signer` values (file paths are on this machine, not under --root). */
  extra?: readonly string[] | undefined;
}

async function expand(entry: string, resolvePath: (p: string) => string, from: string): Promise<string[]> {
  if (!entry.startsWith('/')) return [entry];
  const file = resolvePath(entry);
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (err) {
    const why = (err as Error).message;
    throw new ConfigError('CONFIG_INVALID', `${from}: cannot read the trusted-signers file ${file}: ${why}`, {
      cause: err,
      details: { file },
      hint: 'Name a file holding Ed25519 public keys (PEM) or fingerprints, one per line.',
    });
  }
  const pems = text.match(/-----BEGIN PUBLIC KEY-----[\s\S]*?-----END PUBLIC KEY-----/g) ?? [];
  const rest = text.replace(/-----BEGIN PUBLIC KEY-----[\s\S]*?-----END PUBLIC KEY-----/g, '');
  const lines = rest
    .split('\n')
    .map((l) => l.replace(/#.*$/, '').trim())
    .filter(Boolean);
  return [...pems, ...lines];
}

/** The trusted set; throws CONFIG_INVALID naming an unreadable entry. */
export async function resolveTrustedSigners(o: TrustOptions): Promise<TrustedSigners> {
  const out: TrustedSigners = { fingerprints: new Set(), sources: [] };
  const add = (fingerprint: string, from: string): void => {
    if (!out.fingerprints.has(fingerprint)) out.sources.push({ fingerprint, from });
    out.fingerprints.add(fingerprint);
  };
  const { readConductorIdentityPublic } = await import('../identity/agent-key.js');
  const identity = await readConductorIdentityPublic(o.path(o.config.agents.stateDir)).catch(() => undefined);
  if (identity) add(identity.signingFingerprint, 'identity');
  const groups: [string, readonly string[], (p: string) => string][] = [
    ['backup.trustedSigners', o.config.backup.trustedSigners ?? [], o.path],
    ['--trusted-signer', o.extra ?? [], (p) => p],
  ];
  for (const [from, entries, resolvePath] of groups) {
    for (const entry of entries) {
      const { fingerprints, problems } = parseTrustedSigners(await expand(entry, resolvePath, from));
      if (problems.length) {
        throw new ConfigError('CONFIG_INVALID', `${from}: ${problems.join('; ')}`, {
          details: { key: from, problems },
          hint:
            'List Ed25519 public keys (PEM), fingerprints (colon hex, as `keys status` prints them) ' +
            'or files of them.',
        });
      }
      for (const f of fingerprints) add(f, from);
    }
  }
  return out;
}
