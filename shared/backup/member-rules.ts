/**
 * The member-safety rules of a backup archive, as pure functions over member descriptions: the
 * one place that decides whether a member may be restored, used alike by `restore` (which writes
 * it), `backup verify` (which only reads) and the archive reader both sit on. So "verified" means
 * "restorable". No streams here: the plumbing (conductor-agent/backup/archive-reader.ts) feeds
 * headers in, the rules answer with a checked member or an ARCHIVE_* error.
 *
 * The rules (issue 9 §D, DESIGN.md rule 6):
 * - names: no NUL, no `..` segment, not empty; a manifest only as the first member;
 * - no duplicates; no devices, FIFOs or unknown types; no setuid/setgid bits;
 * - with a manifest: every member listed, with the same type and mode; not larger than recorded;
 * - every path in the restore set (the conductor file set, shared/backup/file-set.ts); a path the
 *   file set names as a file (`master.pem`, `global.init`, …) is a regular file, never a folder or link;
 * - no member written through a symlink, of the archive or of the target as it is;
 * - links are resolved physically (each component against the members already seen, then the
 *   target as it is), never as text; no link, symbolic or hard, lives in or points into a private
 *   area (pki folder, agent state, kept rotations) or at a folder holding one; a symlink must land
 *   in the restore set; no link under a Salt file root leaves the file roots;
 * - a private file is written at most 0600 and a private folder at most 0700, whatever the
 *   archive says (reported as tightened).
 */
import { posix } from 'node:path';
import { ArchiveError } from '../errors.js';
import { fixSeedTypo, MANIFEST_NAME, type ManifestEntry } from './format.js';
import { fileRootOf, isAllowed, isAncestorOfAllowed, privateAreaOf, type Allowlist } from './file-set.js';

export type MemberKind = 'file' | 'dir' | 'symlink' | 'hardlink';

/** Why a member is refused (stable, used in error details and test names). */
export type UnsafeReason =
  | 'empty-name'
  | 'nul-in-name'
  | 'dot-dot'
  | 'outside-allowlist'
  | 'link-escape'
  | 'link-private-area'
  | 'link-leaves-file-root'
  | 'through-symlink'
  | 'device-or-fifo'
  | 'setuid-setgid'
  | 'duplicate-member'
  | 'malformed-header'
  | 'unexpected-member'
  | 'type-mismatch'
  | 'mode-mismatch'
  | 'unsupported-type';

/** An ARCHIVE_UNSAFE_MEMBER error naming the member and the reason. */
export function unsafeMember(
  reason: UnsafeReason,
  member: string,
  message: string,
  extra: Record<string, unknown> = {},
): ArchiveError {
  return new ArchiveError('ARCHIVE_UNSAFE_MEMBER', `refusing archive member ${JSON.stringify(member)}: ${message}`, {
    details: { member, reason, ...extra },
    hint:
      'Nothing was changed. Restore only archives made by `conductor-agent backup create` or the seed procedure; ' +
      'if the path is yours, add it to restore.extraPaths.',
  });
}

/**
 * Normalise a member name to an absolute system path. Throws ARCHIVE_UNSAFE_MEMBER for empty
 * names, NUL bytes and any `..` segment (checked before normalisation, so `a/../b` is refused too).
 */
export function systemPathOfMember(name: string, options: { seedArchive: boolean }): string {
  if (name.includes('\0')) throw unsafeMember('nul-in-name', name, 'the name holds a NUL byte');
  if (name.split('/').includes('..')) throw unsafeMember('dot-dot', name, 'the name climbs out with ".."');
  const stripped = name.replace(/^(\.?\/+)+/, '').replace(/\/+$/, '');
  if (stripped === '' || stripped === '.') throw unsafeMember('empty-name', name, 'the name is empty');
  const p = posix.normalize(`/${stripped}`);
  return options.seedArchive ? fixSeedTypo(p) : p;
}

/** Where a symlink at `linkPath` points as text (absolute, normalised), or undefined when it climbs above `/`. */
export function resolveLinkTarget(linkPath: string, target: string): string | undefined {
  return resolvePhysical(target.startsWith('/') ? target : `${posix.dirname(linkPath)}/${target}`, () => undefined);
}

/** A symlink at a system path: its stored target; undefined when that path is not a symlink. */
export type SymlinkAt = (systemPath: string) => string | undefined;

const MAX_HOPS = 40;
const parts = (p: string): string[] => p.split('/').filter((s) => s !== '' && s !== '.');

/**
 * Resolve `path` (absolute) component by component, following every symlink `symlinkAt` knows,
 * as the kernel would. Undefined when it climbs above `/` or follows more than 40 links.
 */
export function resolvePhysical(path: string, symlinkAt: SymlinkAt): string | undefined {
  let stack: string[] = [];
  let queue = parts(path);
  let hops = 0;
  while (queue.length) {
    const c = queue.shift()!;
    if (c === '..') {
      if (!stack.length) return undefined;
      stack.pop();
      continue;
    }
    stack.push(c);
    const link = symlinkAt(`/${stack.join('/')}`);
    if (link === undefined) continue;
    if (++hops > MAX_HOPS) return undefined;
    stack.pop();
    if (link.startsWith('/')) stack = [];
    queue = [...parts(link), ...queue];
  }
  return `/${stack.join('/')}`;
}

/** What a path on the target is now (lstat, never following links). */
export interface TargetEntry {
  kind: 'dir' | 'file' | 'symlink' | 'other';
  linkTarget?: string;
}
export type TargetLookup = (systemPath: string) => TargetEntry | undefined;

/** A tar header as the reader saw it. */
export interface MemberHeader {
  /** The raw member name. */
  name: string;
  /** node-tar's type name (`File`, `Directory`, `SymbolicLink`, `Link`, …). */
  type: string;
  /** Permission bits from the header. */
  mode: number;
  size: number;
  linkpath?: string | undefined;
}

/** A member the rules accepted. */
export interface CheckedMember {
  /** Absolute system path (after the seed's /svr/salt fix for manifest-less archives). */
  path: string;
  kind: MemberKind;
  /** Bytes of content (0 for folders and links). */
  size: number;
  /** The mode to write (the recorded one, tightened for private areas). */
  mode: number;
  /** The recorded mode (manifest, else header), before tightening. */
  recordedMode: number;
  /** The manifest's entry for the member, when the archive has a manifest. */
  entry?: ManifestEntry | undefined;
  /** Symlink target as stored, or the system path of a hard link's earlier member. */
  linkTarget?: string;
}

const FILE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile']);
const KIND_OF_TYPE: Record<string, MemberKind> = { Directory: 'dir', SymbolicLink: 'symlink', Link: 'hardlink' };
const kindOfType = (type: string): MemberKind | undefined => (FILE_TYPES.has(type) ? 'file' : KIND_OF_TYPE[type]);
const under = (p: string, dir: string): boolean => p === dir || p.startsWith(dir === '/' ? '/' : `${dir}/`);

/**
 * The mode to write for `path`: as recorded, but a private folder at most 0700 and a private file
 * at most 0600. In the pki folder the Salt public keys (`*.pub`, `minions*` folders) stay as
 * recorded (a public key anywhere in a private area too): the 0700 folders around them keep them private.
 */
export function safeMode(list: Allowlist, path: string, kind: MemberKind, mode: number): number {
  const area = privateAreaOf(list, path);
  if (area === undefined) return mode;
  if (kind === 'dir') return mode & 0o700;
  if (kind !== 'file') return mode;
  const rel = path.slice(area.length + 1);
  // Public halves keep their recorded mode: Salt *.pub and minion keys, the agent's TLS certificate.
  const publicKey = rel.endsWith('.pub') || rel.endsWith('.crt') || /^minions(_[a-z]+)?\//.test(rel);
  return publicKey ? mode : mode & 0o600;
}

export interface MemberRulesOptions {
  allowlist: Allowlist;
  /** Manifest entries by system path; undefined for a manifest-less (seed-made) archive. */
  manifest?: ReadonlyMap<string, ManifestEntry> | undefined;
  /** The target as it is (restore); undefined = an empty target (verify). */
  target?: TargetLookup | undefined;
}

interface Seen {
  kind: MemberKind;
  linkTarget?: string;
}

/**
 * The rules, applied member by member in archive order. `check` throws an ARCHIVE_UNSAFE_MEMBER
 * (or ARCHIVE_TOO_LARGE) error for a refused member and records an accepted one; refused members
 * leave no trace, so a reader that only reports may go on checking the next one.
 */
export class MemberRules {
  private readonly seen = new Map<string, Seen>();
  private readonly symlinks: string[] = [];
  /** Every folder that holds an accepted member: a symlink may not take its place. */
  private readonly parents = new Set<string>();
  private readonly targetCache = new Map<string, TargetEntry | undefined>();

  constructor(private readonly o: MemberRulesOptions) {}

  get seedArchive(): boolean {
    return this.o.manifest === undefined;
  }

  /** Check one member; returns it as restore must write it. */
  check(h: MemberHeader): CheckedMember {
    if (posix.basename(h.name) === MANIFEST_NAME) {
      throw unsafeMember('unexpected-member', h.name, 'a manifest that is not the first member');
    }
    const path = systemPathOfMember(h.name, { seedArchive: this.seedArchive });
    if (this.seen.has(path)) {
      const says = 'the archive holds this path twice (a later copy would overwrite the first)';
      throw unsafeMember('duplicate-member', h.name, says);
    }
    const kind = this.kindOf(h);
    this.checkParents(h.name, path);
    const entry = this.checkManifest(h, path, kind);
    this.checkAllowed(h.name, path, kind);
    const recordedMode = (entry?.mode ?? h.mode) & 0o1777;
    const mode = safeMode(this.o.allowlist, path, kind, recordedMode);
    const m: CheckedMember = { path, kind, size: kind === 'file' ? h.size : 0, mode, recordedMode, entry };
    if (kind === 'symlink') this.checkSymlink(h, m);
    if (kind === 'hardlink') this.checkHardlink(h, m);
    this.record(m);
    return m;
  }

  /** Manifest entries the archive did not hold (call at the end). */
  missing(): string[] {
    return this.o.manifest ? [...this.o.manifest.keys()].filter((p) => !this.seen.has(p)) : [];
  }

  /** The accepted member at `path`, if any. */
  member(path: string): Seen | undefined {
    return this.seen.get(path);
  }

  private kindOf(h: MemberHeader): MemberKind {
    if (h.type === 'CharacterDevice' || h.type === 'BlockDevice' || h.type === 'FIFO') {
      throw unsafeMember('device-or-fifo', h.name, `a ${h.type} entry`);
    }
    if (h.mode & 0o6000) {
      throw unsafeMember('setuid-setgid', h.name, `mode ${h.mode.toString(8)} has setuid/setgid bits`);
    }
    const kind = kindOfType(h.type);
    if (kind === undefined) throw unsafeMember('unsupported-type', h.name, `entry type ${h.type} is not restorable`);
    return kind;
  }

  /**
   * No member goes through a symlink: one of the archive's, or one on the target inside the restore
   * set that the archive does not replace. (The target's own layout above the restore set, such as
   * `/srv` linked to another disk, is the operator's and is followed.)
   */
  private checkParents(name: string, path: string): void {
    const list = this.o.allowlist;
    for (let d = posix.dirname(path); d !== '/'; d = posix.dirname(d)) {
      const s = this.seen.get(d);
      if (s?.kind === 'symlink') throw unsafeMember('through-symlink', name, `the path goes through the symlink ${d}`);
      // An accepted folder's own ancestors were checked with it, and no symlink may replace them since.
      if (s?.kind === 'dir') break;
      if (!isAllowed(list, d) || list.trees.includes(d)) continue;
      if (this.onTarget(d)?.kind === 'symlink') {
        throw unsafeMember('through-symlink', name, `the path goes through ${d}, a symlink on the target`);
      }
    }
  }

  private checkManifest(h: MemberHeader, path: string, kind: MemberKind): ManifestEntry | undefined {
    if (!this.o.manifest) return undefined;
    const e = this.o.manifest.get(path);
    if (!e) throw unsafeMember('unexpected-member', h.name, 'the member is not listed in the manifest', { path });
    if ((e.type === 'dir') !== (kind === 'dir') || kind === 'symlink' || kind === 'hardlink') {
      throw unsafeMember('type-mismatch', h.name, `the manifest says ${e.type}, the archive holds ${h.type}`, { path });
    }
    if ((h.mode & 0o7777) !== (e.mode & 0o7777)) {
      const says = `the tar header says mode ${h.mode.toString(8)}, the manifest ${e.mode.toString(8)}`;
      throw unsafeMember('mode-mismatch', h.name, says, {
        path,
        headerMode: h.mode & 0o7777,
        manifestMode: e.mode & 0o7777,
      });
    }
    if (kind === 'file' && h.size > e.size) throw memberTooLarge(h.name, h.size, e.size);
    return e;
  }

  private checkAllowed(name: string, path: string, kind: MemberKind): void {
    const list = this.o.allowlist;
    if (list.regularFiles.has(path) && kind !== 'file' && kind !== 'hardlink') {
      const says = `${path} must be a regular file, the archive holds a ${kind}`;
      throw unsafeMember('type-mismatch', name, says, { path });
    }
    if (isAllowed(list, path) || (kind === 'dir' && isAncestorOfAllowed(list, path))) return;
    throw unsafeMember('outside-allowlist', name, `${path} is not in the restore set`, { path });
  }

  private checkSymlink(h: MemberHeader, m: CheckedMember): void {
    const target = h.linkpath ?? '';
    if (target === '') throw unsafeMember('link-escape', h.name, 'a symlink with an empty target');
    if (this.parents.has(m.path)) {
      throw unsafeMember('through-symlink', h.name, 'a symlink in place of a folder that earlier members are in');
    }
    m.linkTarget = target;
    this.checkLinkAt(h.name, m.path, target);
  }

  /** The rules for one symlink at `path`, resolved against what is known now. */
  private checkLinkAt(name: string, path: string, target: string, extra: SymlinkAt = () => undefined): void {
    const abs = target.startsWith('/') ? target : `${posix.dirname(path)}/${target}`;
    const resolved = resolvePhysical(abs, (p) => (p === path ? target : (extra(p) ?? this.symlinkAt(p))));
    const detail = { linkpath: target, ...(resolved ? { resolved } : {}) };
    if (!resolved || !isAllowed(this.o.allowlist, resolved)) {
      throw unsafeMember('link-escape', name, `symlink to ${target} leaves the restore set`, detail);
    }
    this.checkLinkRules(name, path, resolved, `symlink to ${target}`, detail);
  }

  private checkHardlink(h: MemberHeader, m: CheckedMember): void {
    const targetPath = systemPathOfMember(h.linkpath ?? '', { seedArchive: this.seedArchive });
    const t = this.seen.get(targetPath);
    const detail = { linkpath: h.linkpath };
    if (t?.kind !== 'file' || !isAllowed(this.o.allowlist, targetPath)) {
      const says = `hard link to ${h.linkpath} is not an earlier file in the restore set`;
      throw unsafeMember('link-escape', h.name, says, detail);
    }
    this.checkLinkRules(h.name, m.path, targetPath, `hard link to ${h.linkpath}`, detail);
    m.linkTarget = targetPath;
  }

  /** Private areas and Salt file roots, for any link from `path` that lands on `resolved`. */
  private checkLinkRules(
    name: string,
    path: string,
    resolved: string,
    what: string,
    detail: Record<string, unknown>,
  ): void {
    const list = this.o.allowlist;
    const holding = list.privateAreas.find((a) => under(a, resolved));
    const area = privateAreaOf(list, path) ?? privateAreaOf(list, resolved) ?? holding;
    if (area !== undefined) {
      const says = `${what}: no link may live in or point into the private folder ${area}`;
      throw unsafeMember('link-private-area', name, says, { ...detail, area });
    }
    const root = fileRootOf(list, path);
    if (root !== undefined && fileRootOf(list, resolved) === undefined) {
      const says = `${what} leaves the Salt file roots (the fileserver would serve it from ${root})`;
      throw unsafeMember('link-leaves-file-root', name, says, detail);
    }
  }

  private record(m: CheckedMember): void {
    if (m.kind === 'symlink') {
      // A new symlink can change where an earlier one lands (`a -> b/x` before `b -> /etc`).
      const withNew: SymlinkAt = (q) => (q === m.path ? m.linkTarget : undefined);
      for (const p of this.symlinks) this.checkLinkAt(p, p, this.seen.get(p)!.linkTarget!, withNew);
      this.symlinks.push(m.path);
    }
    this.seen.set(m.path, { kind: m.kind, ...(m.linkTarget !== undefined ? { linkTarget: m.linkTarget } : {}) });
    for (let d = posix.dirname(m.path); d !== '/' && !this.parents.has(d); d = posix.dirname(d)) this.parents.add(d);
  }

  /** A symlink at `p` after the restore: the archive's member there, else the target's. */
  private symlinkAt(p: string): string | undefined {
    const s = this.seen.get(p);
    if (s) return s.kind === 'symlink' ? s.linkTarget : undefined;
    const t = this.onTarget(p);
    return t?.kind === 'symlink' ? t.linkTarget : undefined;
  }

  private onTarget(p: string): TargetEntry | undefined {
    if (!this.o.target) return undefined;
    if (!this.targetCache.has(p)) this.targetCache.set(p, this.o.target(p));
    return this.targetCache.get(p);
  }
}

export function memberTooLarge(member: string, size: number, expected: number): ArchiveError {
  const says = `member ${member} is ${size} bytes, larger than the ${expected} the manifest records`;
  return new ArchiveError('ARCHIVE_TOO_LARGE', says, {
    details: { member, reason: 'member-larger-than-manifest', size, expected },
    hint: 'Nothing was changed. The archive was altered: use another backup.',
  });
}

/** A member's content against its manifest entry: undefined when it agrees. */
export function contentDisagreement(
  path: string,
  e: ManifestEntry | undefined,
  size: number,
  sha256: string | undefined,
): ArchiveError | undefined {
  if (e?.type !== 'file' || (size === e.size && (sha256 === undefined || sha256 === e.sha256))) return undefined;
  const hashes = sha256 ? `, sha256 ${sha256.slice(0, 12)}…/${e.sha256?.slice(0, 12)}…` : '';
  const says = `${path} does not match the manifest (size ${size}/${e.size}${hashes})`;
  return new ArchiveError('ARCHIVE_HASH_MISMATCH', says, {
    details: {
      path,
      reason: size !== e.size ? 'member-size' : 'member-hash',
      expected: e.sha256,
      actual: sha256,
      expectedSize: e.size,
      actualSize: size,
    },
    hint: 'Nothing was changed. The archive is damaged or was altered: use another backup.',
  });
}

/** The error for manifest entries the archive lacks. */
export function missingMembers(missing: readonly string[]): ArchiveError {
  const says = `${missing.length} member(s) listed in the manifest are missing from the archive (first: ${missing[0]})`;
  return new ArchiveError('ARCHIVE_HASH_MISMATCH', says, {
    details: { reason: 'missing-member', missing: missing.slice(0, 20) },
    hint: 'Nothing was changed. The archive is truncated or was altered: use another backup.',
  });
}
