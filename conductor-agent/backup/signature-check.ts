/**
 * The signature rule as `backup verify` and `backup list` apply it (restore applies the same rule
 * in restore/signature-gate.ts): a manifest signed by a trusted key is `verified`; one whose
 * signature does not verify, or that a key outside the trusted set signed, is a difference (the
 * archive fails); an unsigned manifest is `unsigned` — readable, but not proof of who made it.
 */
import { basename } from 'node:path';
import { ARCHIVE_NAME_RE, ENCRYPTED_SUFFIX } from '../../shared/backup/format.js';
import { checkManifestSignature, type SignatureCheck } from '../../shared/backup/signature.js';
import { archiveName } from './naming.js';

export type SignatureDifferenceKind = 'signature-invalid' | 'signer-untrusted' | 'name-mismatch';

/**
 * A name in our pattern must be the one the signed manifest implies (host, node, creation time):
 * otherwise an older genuine archive renamed as the newest (a rollback by whoever owns the store)
 * would pass for it. Names outside the pattern (an operator's own copy) are not judged.
 */
export function nameMismatch(path: string, rawManifest: unknown): string | undefined {
  const name = basename(path);
  if (!ARCHIVE_NAME_RE.test(name)) return undefined;
  const m = rawManifest as { host?: unknown; node?: unknown; createdAt?: unknown };
  const created = typeof m.createdAt === 'string' ? new Date(m.createdAt) : new Date(NaN);
  if (typeof m.host !== 'string' || typeof m.node !== 'string' || Number.isNaN(created.getTime())) {
    return `${name}: the signed manifest names no host, node or creation time`;
  }
  const expected = archiveName(m.host, m.node, created, name.endsWith(ENCRYPTED_SUFFIX));
  if (expected === name) return undefined;
  return `the archive is named ${name}, but its signed manifest says ${expected} (renamed?)`;
}

export interface SignatureJudgement {
  check: SignatureCheck;
  difference?: { kind: SignatureDifferenceKind; message: string } | undefined;
}

/** Judge the manifest as parsed from the archive's bytes (not a re-validated copy); `path` binds its name. */
export function judgeSignature(
  rawManifest: unknown,
  trusted: ReadonlySet<string> | undefined,
  path?: string,
): SignatureJudgement {
  const check = checkManifestSignature(rawManifest, trusted);
  const renamed = check.status === 'signed' && path !== undefined ? nameMismatch(path, rawManifest) : undefined;
  if (renamed) return { check, difference: { kind: 'name-mismatch', message: renamed } };
  if (check.status === 'invalid') return { check, difference: { kind: 'signature-invalid', message: check.message } };
  if (check.status === 'untrusted') {
    const message = `${check.message} (backup.trustedSigners / --trusted-signer)`;
    return { check, difference: { kind: 'signer-untrusted', message } };
  }
  return { check };
}
