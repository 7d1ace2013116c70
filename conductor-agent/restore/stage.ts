/**
 * The staging step: extract the archive into a fresh folder beside the journal, verify what was
 * staged, read the target and plan. Touches nothing on the target; on any refusal the staging
 * folder is removed by the caller.
 */
import { lstatSync, promises as fsp, readlinkSync } from 'node:fs';
import { posix } from 'node:path';
import type { Manifest } from '../../shared/backup/format.js';
import { safeMode, type TargetEntry, type TargetLookup } from '../../shared/backup/member-rules.js';
import { underRoot, type ConductorConfig } from '../../shared/config/schema.js';
import { ensureDir, PRIVATE_DIR_MODE } from '../../shared/fs/atomic.js';
import type { Clock } from '../../shared/ports/clock.js';
import { CONDUCTOR_FILES } from '../../shared/ssr/layout.js';
import { allowlistForConfig, type Allowlist } from './allowlist.js';
import { readSidecar } from './archive-source.js';
import { extractToStaging, type ExtractResult } from './extract.js';
import type { OwnerIds } from './owner-ids.js';
import { planRestore } from './plan.js';
import { readTreeState } from './tree-state.js';
import type { RestorePlan, StagedMember } from './types.js';
import { verifyStaging, type StagingVerifyResult } from './verify-staging.js';

export interface StageInput {
  archive: string;
  root: string;
  config: ConductorConfig;
  staging: string;
  owners: OwnerIds;
  clock: Pick<Clock, 'now'>;
  identityFile?: string | undefined;
  targetNode: string | undefined;
  acceptNode: string | undefined;
  /** From preflight's peek, to skip parsing the manifest twice. */
  knownManifest?: { bytes: Buffer; manifest: Manifest } | undefined;
  /** Make the staged files durable: started as soon as extraction ends, so it overlaps verification and planning. */
  flush?: ((path: string) => Promise<void>) | undefined;
}

export interface StageResult {
  extract: ExtractResult;
  verify: StagingVerifyResult;
  plan: RestorePlan;
  allowlist: Allowlist;
  timings: { stage: number; verify: number };
  /** The staging flush started after extraction (resolved when there was none); await it before recording `staged`. */
  flushed: Promise<void>;
}

/** The allowlist for this configuration (the conductor file set + restore.extraPaths). */
export function allowlistFor(config: ConductorConfig): Allowlist {
  return allowlistForConfig(config);
}

/** The target as it is under `root` (lstat, never following links): what the member rules walk links against. */
export function targetLookup(root: string): TargetLookup {
  return (systemPath) => {
    const p = underRoot(root, systemPath);
    const st = lstatSync(p, { throwIfNoEntry: false });
    if (!st) return undefined;
    const kind: TargetEntry['kind'] = st.isDirectory()
      ? 'dir'
      : st.isFile()
        ? 'file'
        : st.isSymbolicLink()
          ? 'symlink'
          : 'other';
    return kind === 'symlink' ? { kind, linkTarget: readlinkSync(p) } : { kind };
  };
}

export async function stageArchive(input: StageInput): Promise<StageResult> {
  const allowlist = allowlistFor(input.config);
  await fsp.rm(input.staging, { recursive: true, force: true });
  await ensureDir(input.staging, PRIVATE_DIR_MODE);
  const t0 = input.clock.now();
  const expectedArchiveSha256 = await readSidecar(input.archive);
  const extract = await extractToStaging({
    archive: input.archive,
    staging: input.staging,
    allowlist,
    owners: input.owners,
    target: targetLookup(input.root),
    identityFile: input.identityFile,
    knownManifest: input.knownManifest,
    earlyWriteback: input.flush !== undefined,
    jsonPaths: new Set([CONDUCTOR_FILES.runningConfig, CONDUCTOR_FILES.userRunning]),
    limits: { maxTotalBytes: input.config.restore?.maxTotalBytes, maxRatio: input.config.restore?.maxRatio },
  });
  const t1 = input.clock.now();
  const flushed = input.flush ? extract.writeback.then(() => input.flush!(input.staging)) : Promise.resolve();
  // Awaited by the caller; a refusal below must not leave it unhandled.
  flushed.catch(() => undefined);
  const verify = verifyStaging({
    staging: input.staging,
    extract,
    expectedArchiveSha256,
    pkiDir: input.config.salt.pkiDir,
    targetNode: input.targetNode,
    acceptNode: input.acceptNode,
  });
  addImpliedFolders(extract.members, allowlist, Math.floor(input.clock.now() / 1000));
  const state = await readTreeState(input.root, extract.members, allowlist);
  const plan = planRestore({ members: extract.members, current: state.current, extras: state.extras, allowlist });
  return { extract, verify, plan, allowlist, timings: { stage: t1 - t0, verify: input.clock.now() - t1 }, flushed };
}

/**
 * Folders the members need that the archive does not hold (`/srv` for `/srv/salt`), inserted
 * before their first child: created 0755 root-owned (0700 inside a private area) when missing,
 * never changed when present.
 */
export function addImpliedFolders(members: StagedMember[], allowlist: Allowlist, nowSeconds: number): void {
  const have = new Set(members.map((m) => m.path));
  const out: StagedMember[] = [];
  for (const m of members) {
    const missing: string[] = [];
    for (let d = posix.dirname(m.path); d !== '/' && !have.has(d); d = posix.dirname(d)) missing.unshift(d);
    for (const d of missing) {
      have.add(d);
      out.push({
        path: d,
        kind: 'dir',
        size: 0,
        mode: safeMode(allowlist, d, 'dir', 0o755),
        uid: 0,
        gid: 0,
        mtime: nowSeconds,
        implied: true,
      });
    }
    out.push(m);
  }
  members.length = 0;
  for (const m of out) members.push(m);
}
