/**
 * The signature rule as `backup verify` and `backup list` apply it (restore applies the same rule
 * in restore/signature-gate.ts): a manifest signed by a trusted key is `verified`; one whose
 * signature does not verify, or that a key outside the trusted set signed, is a difference (the
 * archive fails); an unsigned manifest is `unsigned` — readable, but not proof of who made it.
 */
import { checkManifestSignature, type SignatureCheck } from '../../shared/backup/signature.js';

export type SignatureDifferenceKind = 'signature-invalid' | 'signer-untrusted';

export interface SignatureJudgement {
  check: SignatureCheck;
  difference?: { kind: SignatureDifferenceKind; message: string } | undefined;
}

/** Judge the manifest as parsed from the archive's bytes (not a re-validated copy). */
export function judgeSignature(rawManifest: unknown, trusted: ReadonlySet<string> | undefined): SignatureJudgement {
  const check = checkManifestSignature(rawManifest, trusted);
  if (check.status === 'invalid') return { check, difference: { kind: 'signature-invalid', message: check.message } };
  if (check.status === 'untrusted') {
    const message = `${check.message} (backup.trustedSigners / --trusted-signer)`;
    return { check, difference: { kind: 'signer-untrusted', message } };
  }
  return { check };
}
