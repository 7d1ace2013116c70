/** Human text for the `keys` reports (`--json` prints the report objects as they are). */
import { renderChanges } from './changes.js';
import type { AcceptVerifiedReport } from './accept.js';
import type { EnableSigningReport } from './enable-signing.js';
import type { RollbackReport } from './rollback.js';
import type { RotateReport } from './rotate.js';
import type { MasterKeyStatus } from './status.js';

const yn = (b: boolean | null): string => (b === null ? 'unknown' : b ? 'yes' : 'no');

export function renderStatus(s: MasterKeyStatus): string {
  const lines = [
    `Master public key:   ${s.master.publicKey}`,
    `  fingerprint (${s.hashType}): ${s.master.fingerprint ?? 'MISSING'}`,
    `  private key present: ${yn(s.master.privateKeyPresent)}   pair matches: ${yn(s.master.pairMatches)}`,
    `Signed master keys:  ${s.signing.enabled ? 'enabled' : 'disabled'}${s.signing.precomputed ? ' (precomputed signature)' : ''}`,
    `  ${s.signing.signKeyName}.pub: ${s.signing.signPublicKeyFingerprint ?? 'missing'}   private key present: ${yn(s.signing.signPrivateKeyPresent)}`,
    `  signature file: ${s.signing.signaturePresent ? (s.signing.signatureValid ? 'valid' : 'DOES NOT VERIFY') : 'missing'}`,
    `Minion keys:         accepted ${s.minions.accepted}, pending ${s.minions.pending}, rejected ${s.minions.rejected}, denied ${s.minions.denied}`,
  ];
  for (const p of s.pending) lines.push(`  pending ${p.id}:  ${p.fingerprint ?? 'not a PEM key'}`);
  for (const w of s.warnings) lines.push(`warning: ${w}`);
  return `${lines.join('\n')}\n`;
}

export function renderEnableSigning(r: EnableSigningReport): string {
  let out = renderChanges(r.changes, r.dryRun);
  if (r.signPublicKeyFingerprint) out += `${r.signPublicKey}: ${r.signPublicKeyFingerprint}\n`;
  if (r.configBackup) out += `Previous master config kept as ${r.configBackup}\n`;
  out += `Next steps:\n${r.nextSteps.map((s, i) => `  ${i + 1}. ${s}`).join('\n')}\n`;
  return out;
}

export function renderRotate(r: RotateReport): string {
  let out = renderChanges(r.changes, r.dryRun);
  out += `Readiness: ${r.readiness.ready.length} ready, ${r.readiness.notReady.length} not ready${r.forced ? ' (forced)' : ''}\n`;
  for (const n of r.readiness.notReady) out += `  not ready ${n.id}: ${n.reason}\n`;
  if (r.dryRun) return out;
  out += `Rotation ${r.rotationId}: ${r.oldFingerprint} -> ${r.newFingerprint}\n`;
  out += `Minions back: ${r.answered.length}; missing after ${Math.round(r.waitedMs / 1000)} s: ${r.missing.length}\n`;
  for (const m of r.missing) out += `  missing ${m}\n`;
  if (r.missing.length) out += `Roll back with: conductor-agent keys rotate --rollback --rotation-id ${r.rotationId}\n`;
  return out;
}

export function renderRollback(r: RollbackReport): string {
  let out = renderChanges(r.changes, r.dryRun);
  if (r.dryRun) return out;
  out += `Restored ${r.restoredFingerprint} (rotation ${r.rotationId}); minions back: ${r.answered.length}, missing: ${r.missing.length}\n`;
  for (const m of r.missing) out += `  missing ${m}\n`;
  return out;
}

export function renderAccept(r: AcceptVerifiedReport): string {
  const lines: string[] = [`Expected fingerprints from: ${r.source}`];
  for (const a of r.accept)
    lines.push(
      `  ${r.dryRun ? 'would accept' : r.accepted.includes(a.id) ? 'accepted' : 'NOT accepted'} ${a.id}  ${a.fingerprint}`,
    );
  for (const f of r.failed) lines.push(`  FAILED ${f.id}: [${f.code}] ${f.message}`);
  for (const m of r.mismatch)
    lines.push(
      `  MISMATCH ${m.id}: expected ${m.expected}, pending key is ${m.actual ?? 'not a PEM key'} (left pending)`,
    );
  for (const u of r.unverified)
    lines.push(`  unverified ${u.id}  ${u.fingerprint ?? 'not a PEM key'} (no expected fingerprint; left pending)`);
  return `${lines.join('\n')}\n`;
}
