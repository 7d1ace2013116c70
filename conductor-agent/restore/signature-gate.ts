/**
 * Restore's signature rule, checked in preflight before anything is staged: the archive's manifest
 * must be signed by a trusted key (the current conductor-agent identity, `backup.trustedSigners`,
 * `--trusted-signer`). A signature that does not verify, or one by another key, refuses the
 * restore (ARCHIVE_SIGNATURE_INVALID / ARCHIVE_SIGNER_UNTRUSTED, exit 7, nothing changed). An
 * unsigned manifest (older archives, or a stripped signature) proves no origin: like a seed-made
 * archive, it restores only after the explicit confirmation (`--yes`).
 *
 * The check runs over the manifest bytes preflight read; extraction refuses an archive whose
 * manifest bytes differ from those (ARCHIVE_CHANGED), so what was checked is what is restored.
 */
import { checkManifestSignature, type SignatureCheck } from '../../shared/backup/signature.js';
import { nameMismatch } from '../backup/signature-check.js';
import type { Finding } from './types.js';

export interface SignatureGate {
  check: SignatureCheck | undefined;
  finding: Finding | undefined;
  /** True when the restore may go on only after confirmation (unsigned manifest). */
  needsConfirmation: boolean;
}

/**
 * Judge `manifestBytes` (the first member as read by preflight); undefined bytes = no manifest (seed
 * archive). A signed archive whose name is not the one its manifest implies is refused too.
 */
export function signatureGate(
  manifestBytes: Buffer | undefined,
  trusted: ReadonlySet<string>,
  archive: string,
): SignatureGate {
  if (manifestBytes === undefined) return { check: undefined, finding: undefined, needsConfirmation: false };
  let raw: unknown;
  try {
    raw = JSON.parse(manifestBytes.toString('utf8'));
  } catch {
    raw = undefined; // the manifest parser already refused it
  }
  const check = checkManifestSignature(raw, trusted);
  const signer = check.fingerprint ? { details: { signer: check.fingerprint } } : {};
  const finding = (f: Omit<Finding, 'check'>): Finding => ({ check: 'archive.signature', ...f, ...signer });
  switch (check.status) {
    case 'signed': {
      const renamed = nameMismatch(archive, raw);
      if (renamed) {
        const refused = finding({ level: 'fail', code: 'ARCHIVE_NAME_MISMATCH', summary: renamed });
        return { check, needsConfirmation: false, finding: refused };
      }
      return { check, needsConfirmation: false, finding: finding({ level: 'ok', summary: check.message }) };
    }
    case 'unsigned': {
      const summary = `UNSIGNED ARCHIVE: ${check.message}; it proves no origin`;
      return { check, needsConfirmation: true, finding: finding({ level: 'warn', summary }) };
    }
    default:
      return {
        check,
        needsConfirmation: false,
        finding: finding({ level: 'fail', code: check.code!, summary: check.message }),
      };
  }
}
