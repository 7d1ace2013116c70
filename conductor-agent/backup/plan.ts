/**
 * Pure backup planning: which system paths go in, which are required, and what the archive is
 * called. No file system access here; `collect.ts` turns the plan into entries.
 */
import { CONDUCTOR_FILES, MASTER_PKI } from '../../shared/ssr/layout.js';
import type { ConductorConfig } from '../../shared/config/schema.js';
import { archiveName } from './naming.js';

export interface BackupSource {
  /** Absolute system path (not under --root). */
  systemPath: string;
  /** Missing required sources fail the backup; missing optional ones are listed in the report. */
  required: boolean;
  /** What must be found there: a regular file, a folder (taken whole), or either. */
  kind: 'file' | 'dir' | 'any';
  /** Why it is in the backup (shown when it is missing). */
  why: string;
}

export interface BackupPlan {
  sources: BackupSource[];
  /** System paths never to include (the backup folder itself). */
  exclude: string[];
  /** Backup folder (system path). */
  dir: string;
  /** Final file name (`…tar.gz` or `…tar.gz.age`). */
  fileName: string;
  createdAt: Date;
  host: string;
  node: string;
  encrypted: boolean;
}

const join = (dir: string, name: string): string => `${dir.replace(/\/+$/, '')}/${name}`;

/**
 * The seed's file set with its bugs fixed, plus what the seed forgot: the whole master pki folder
 * (signing keys, pending/rejected/denied minion keys), pillars, config exports, our own state and
 * the operator's extra paths. Order is archive order: small identity files first.
 */
export function planSources(config: ConductorConfig): BackupSource[] {
  const pki = config.salt.pkiDir;
  const f = CONDUCTOR_FILES;
  return [
    { systemPath: f.globalInit, required: true, kind: 'file', why: 'conductor identity (global.init)' },
    { systemPath: f.localInit, required: true, kind: 'file', why: 'node identity (local.init)' },
    { systemPath: f.runningConfig, required: true, kind: 'file', why: 'running configuration' },
    { systemPath: f.userRunning, required: true, kind: 'file', why: 'user configuration' },
    // The whole pki folder (master_sign.*, minions_pre/, minions_rejected/, minions_denied/ too);
    // the three entries after it only check that what a restore needs is there.
    { systemPath: pki, required: true, kind: 'dir', why: 'Salt master pki folder' },
    { systemPath: join(pki, MASTER_PKI.privateKey), required: true, kind: 'file', why: 'Salt master private key' },
    { systemPath: join(pki, MASTER_PKI.publicKey), required: true, kind: 'file', why: 'Salt master public key' },
    { systemPath: join(pki, MASTER_PKI.accepted), required: true, kind: 'dir', why: 'accepted minion keys' },
    { systemPath: f.configExports, required: false, kind: 'dir', why: 'exported configurations' },
    { systemPath: f.srvSalt, required: false, kind: 'dir', why: 'custom Salt states' },
    { systemPath: f.srvPillar, required: false, kind: 'dir', why: 'custom Salt pillars' },
    { systemPath: f.svrSalt, required: false, kind: 'dir', why: "the seed's /svr/salt folder" },
    { systemPath: config.agents.stateDir, required: false, kind: 'dir', why: 'conductor-agent state (signing key, router registry)' },
    ...config.backup.extraPaths.map((p): BackupSource => ({ systemPath: p, required: true, kind: 'any', why: 'backup.extraPaths' })),
  ];
}

export interface PlanInput {
  config: ConductorConfig;
  host: string;
  node: string;
  createdAt: Date;
  /** Override backup.dir (the `--dir` flag). */
  dir?: string | undefined;
}

/** The whole plan for one run. */
export function planBackup(input: PlanInput): BackupPlan {
  const dir = input.dir ?? input.config.backup.dir;
  const encrypted = input.config.backup.encrypt.recipients.length > 0;
  return {
    sources: planSources(input.config),
    exclude: [dir],
    dir,
    fileName: archiveName(input.host, input.node, input.createdAt, encrypted),
    createdAt: input.createdAt,
    host: input.host,
    node: input.node,
    encrypted,
  };
}
