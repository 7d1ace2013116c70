/**
 * Archive member names → system paths, refusing names that must never be extracted. Member names
 * are system paths without the leading `/` (shared/backup/format.ts); seed-made archives may also
 * carry `./` or (with `tar -P`) a leading `/`, and the seed's `/svr/salt` typo.
 */
import { posix } from 'node:path';
import { ArchiveError } from '../../shared/errors.js';
import { fixSeedTypo } from '../../shared/backup/format.js';

/** Why a member name is refused (stable, used in error details and test names). */
export type UnsafeReason =
  | 'empty-name'
  | 'nul-in-name'
  | 'dot-dot'
  | 'outside-allowlist'
  | 'link-escape'
  | 'through-symlink'
  | 'device-or-fifo'
  | 'setuid-setgid'
  | 'duplicate-member'
  | 'malformed-header'
  | 'unexpected-member'
  | 'type-mismatch'
  | 'unsupported-type';

/** An ARCHIVE_UNSAFE_MEMBER error naming the member and the reason. */
export function unsafeMember(reason: UnsafeReason, member: string, message: string, extra: Record<string, unknown> = {}): ArchiveError {
  return new ArchiveError('ARCHIVE_UNSAFE_MEMBER', `refusing archive member ${JSON.stringify(member)}: ${message}`, {
    details: { member, reason, ...extra },
    hint: 'Nothing was changed. Restore only archives made by `conductor-agent backup create` or the seed procedure; if the path is yours, add it to restore.extraPaths.',
  });
}

/**
 * Normalise a member name to an absolute system path. Throws ARCHIVE_UNSAFE_MEMBER for empty
 * names, NUL bytes and any `..` segment (checked before normalisation, so `a/../b` is refused too).
 */
export function systemPathOfMember(name: string, options: { seedArchive: boolean }): string {
  if (name.includes('\0')) throw unsafeMember('nul-in-name', name, 'the name holds a NUL byte');
  const segments = name.split('/');
  if (segments.includes('..')) throw unsafeMember('dot-dot', name, 'the name climbs out with ".."');
  const stripped = name.replace(/^(\.?\/+)+/, '').replace(/\/+$/, '');
  if (stripped === '' || stripped === '.') throw unsafeMember('empty-name', name, 'the name is empty');
  const p = posix.normalize('/' + stripped);
  return options.seedArchive ? fixSeedTypo(p) : p;
}

/** Where a symlink at `linkPath` points (absolute, normalised), or undefined when it climbs above `/`. */
export function resolveLinkTarget(linkPath: string, target: string): string | undefined {
  const abs = target.startsWith('/') ? target : posix.join(posix.dirname(linkPath), target);
  const segments = (target.startsWith('/') ? target : posix.relative('/', posix.dirname(linkPath)) + '/' + target).split('/');
  // Count depth so `../../..` cannot be folded back under / by normalisation.
  let depth = 0;
  for (const s of segments) {
    if (s === '' || s === '.') continue;
    depth += s === '..' ? -1 : 1;
    if (depth < 0) return undefined;
  }
  return posix.normalize(abs);
}
