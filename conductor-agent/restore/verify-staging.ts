/**
 * Checks on the staged files before anything on the target changes: the archive file against its
 * `.sha256` sidecar (member hashes were checked while extracting), the master key pair, the JSON
 * datastores and init files, and the node identity. Returns findings; `fail` findings stop the run.
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { CONDUCTOR_FILES } from '../../shared/ssr/layout.js';
import { pemFinger } from '../../shared/salt/fingerprint.js';
import type { ExtractResult } from './extract.js';
import type { Finding } from './types.js';

export interface StagingVerifyInput {
  staging: string;
  extract: ExtractResult;
  /** From the `.sha256` sidecar, when there is one. */
  expectedArchiveSha256: string | undefined;
  pkiDir: string;
  /** This node's name from the target's local.init (undefined when unknown). */
  targetNode: string | undefined;
  /** `--node`: accept an archive of this node name. */
  acceptNode: string | undefined;
}

export interface StagingVerifyResult {
  findings: Finding[];
  /** Salt fingerprint of the staged master.pub (post-verify compares the target with it). */
  masterFingerprint: string | undefined;
  archiveNode: string | undefined;
}

/** True when the private PEM and the public PEM are one RSA key pair. */
export function isKeyPair(privatePem: string, publicPem: string): boolean {
  try {
    const fromPriv = createPublicKey(createPrivateKey(privatePem)).export({ type: 'spki', format: 'der' });
    const pub = createPublicKey(publicPem).export({ type: 'spki', format: 'der' });
    return fromPriv.equals(pub);
  } catch {
    return false;
  }
}

export function verifyStaging(input: StagingVerifyInput): StagingVerifyResult {
  const findings: Finding[] = [];
  const { extract: x } = input;
  // Regular files only: a folder or link named master.pem is not a key (the member rules refuse one anyway).
  const has = new Set(x.members.filter((m) => m.kind === 'file' || m.kind === 'hardlink').map((m) => m.path));
  const read = (p: string): string => readFileSync(input.staging + p, 'utf8');

  if (input.expectedArchiveSha256 === undefined) {
    findings.push({
      check: 'archive.sha256',
      level: 'warn',
      summary: 'no .sha256 sidecar beside the archive: the file hash is not checked',
    });
  } else if (input.expectedArchiveSha256 !== x.archiveSha256) {
    findings.push({
      check: 'archive.sha256',
      level: 'fail',
      code: 'ARCHIVE_HASH_MISMATCH',
      summary: 'the archive does not match its .sha256 sidecar',
      details: { expected: input.expectedArchiveSha256, actual: x.archiveSha256 },
    });
  } else findings.push({ check: 'archive.sha256', level: 'ok', summary: 'the archive matches its .sha256 sidecar' });

  findings.push(
    x.manifest
      ? {
          check: 'archive.members',
          level: 'ok',
          summary: `${x.members.length} member(s) match the manifest's SHA-256 and sizes`,
        }
      : {
          check: 'archive.members',
          level: 'warn',
          summary: `unverified archive (no manifest): ${x.members.length} member(s) extracted without hashes to check`,
        },
  );

  const pki = input.pkiDir.replace(/\/+$/, '');
  const pem = `${pki}/master.pem`;
  const pub = `${pki}/master.pub`;
  let masterFingerprint: string | undefined;
  if (has.has(pem) && has.has(pub)) {
    const pubText = read(pub);
    if (isKeyPair(read(pem), pubText)) {
      masterFingerprint = pemFinger(pubText);
      findings.push({
        check: 'keys.pair',
        level: 'ok',
        summary: `master.pem and master.pub are one key pair (${masterFingerprint})`,
      });
    } else
      findings.push({
        check: 'keys.pair',
        level: 'fail',
        code: 'KEYS_PAIR_MISMATCH',
        summary: 'master.pem and master.pub in the archive are not one key pair',
      });
  } else {
    findings.push({
      check: 'keys.pair',
      level: 'fail',
      code: 'KEYS_INVALID',
      summary:
        'the archive lacks master.pem or master.pub: restoring it would leave every router unable to trust this conductor',
    });
  }
  if (x.manifest?.masterFingerprint && masterFingerprint && x.manifest.masterFingerprint !== masterFingerprint) {
    findings.push({
      check: 'keys.fingerprint',
      level: 'fail',
      code: 'ARCHIVE_HASH_MISMATCH',
      summary: `master.pub's fingerprint ${masterFingerprint} differs from the manifest's ${x.manifest.masterFingerprint}`,
    });
  }

  for (const [path, err] of x.jsonErrors)
    findings.push({
      check: 'json',
      level: 'fail',
      code: 'ARCHIVE_CORRUPT',
      summary: `${path} is not valid JSON (${err})`,
      details: { path },
    });
  let archiveNode: string | undefined;
  for (const p of [CONDUCTOR_FILES.globalInit, CONDUCTOR_FILES.localInit]) {
    if (!has.has(p)) {
      findings.push({ check: 'json', level: 'fail', code: 'ARCHIVE_CORRUPT', summary: `the archive lacks ${p}` });
      continue;
    }
    try {
      const doc = JSON.parse(read(p)) as { init?: { id?: unknown } };
      if (p === CONDUCTOR_FILES.localInit && typeof doc.init?.id === 'string') archiveNode = doc.init.id;
    } catch (err) {
      findings.push({
        check: 'json',
        level: 'fail',
        code: 'ARCHIVE_CORRUPT',
        summary: `${p} is not valid JSON (${(err as Error).message})`,
        details: { path: p },
      });
    }
  }
  if (x.jsonErrors.size === 0)
    findings.push({ check: 'json', level: 'ok', summary: 'datastores and init files parse' });

  archiveNode ??= x.manifest?.node;
  if (input.acceptNode !== undefined) {
    findings.push(
      archiveNode === input.acceptNode
        ? { check: 'node.identity', level: 'ok', summary: `archive node ${archiveNode} accepted by --node` }
        : {
            check: 'node.identity',
            level: 'fail',
            code: 'RESTORE_PREFLIGHT',
            summary: `--node ${input.acceptNode} does not name the archive's node (${archiveNode ?? 'unknown'})`,
          },
    );
  } else if (archiveNode !== input.targetNode) {
    findings.push({
      check: 'node.identity',
      level: 'fail',
      code: 'RESTORE_PREFLIGHT',
      summary: `the archive is of node ${archiveNode ?? 'unknown'}, this node is ${input.targetNode ?? 'unknown'} (local.init)`,
      details: { archiveNode, targetNode: input.targetNode },
    });
  } else
    findings.push({ check: 'node.identity', level: 'ok', summary: `the archive is of this node (${archiveNode})` });

  for (const p of x.tightened)
    findings.push({
      check: 'modes',
      level: 'warn',
      summary: `${p}: mode tightened to owner-only (private key or pki folder)`,
    });
  return { findings, masterFingerprint, archiveNode };
}
