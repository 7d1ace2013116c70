/**
 * Helpers shared by the restore tests: tree snapshots (content, modes, owners, link targets, file
 * times) to prove "byte-identical afterwards", a recording fake for the service-control port, a
 * config with test-friendly restore settings, and a rebuilt-conductor target tree.
 */
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  utimesSync,
} from 'node:fs';
import { join, relative } from 'node:path';
import { conductorSchema, type ConductorConfig } from '../../shared/config/schema.js';
import type { ServiceControl } from '../../shared/ports/service-control.js';
import { ServiceError } from '../../shared/errors.js';
import { numericOwnerIds as numericOwnerIdsRef } from '../../conductor-agent/restore/owner-ids.js';

/** path → "type mode uid gid size sha256|link mtime" for every entry under `root` (minus `exclude` prefixes). */
export function snapshot(root: string, exclude: readonly string[] = []): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      const rel = `/${relative(root, p)}`;
      if (exclude.some((e) => rel === e || rel.startsWith(`${e}/`))) continue;
      const st = lstatSync(p);
      const meta = `${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}`;
      if (st.isDirectory()) {
        out.set(rel, `dir ${meta}`);
        walk(p);
      } else if (st.isSymbolicLink()) out.set(rel, `link ${meta} -> ${readlinkSync(p)}`);
      else
        out.set(
          rel,
          `file ${meta} ${st.size} ${createHash('sha256').update(readFileSync(p)).digest('hex')} ${Math.floor(st.mtimeMs / 1000)}`,
        );
    }
  };
  walk(root);
  return out;
}

/** Entries of `a` and `b` that differ (for readable assertion failures). */
export function snapshotDiff(a: Map<string, string>, b: Map<string, string>): string[] {
  const keys = new Set([...a.keys(), ...b.keys()]);
  return [...keys]
    .filter((k) => a.get(k) !== b.get(k))
    .map((k) => `${k}: ${a.get(k) ?? '(missing)'} → ${b.get(k) ?? '(missing)'}`);
}

export interface FakeService extends ServiceControl {
  calls: string[];
  active: boolean;
  /** Make the next calls of a verb fail. */
  failOn: Set<'start' | 'stop' | 'isActive'>;
}

/** A recording ServiceControl; `active` follows start/stop. */
export function fakeService(name = '128T', active = true): FakeService {
  const s: FakeService = {
    name,
    calls: [],
    active,
    failOn: new Set(),
    async start() {
      s.calls.push('start');
      if (s.failOn.has('start')) throw new ServiceError('SERVICE_FAILED', `start ${name} failed (injected)`);
      s.active = true;
    },
    async stop() {
      s.calls.push('stop');
      if (s.failOn.has('stop')) throw new ServiceError('SERVICE_FAILED', `stop ${name} failed (injected)`);
      s.active = false;
    },
    async restart() {
      s.calls.push('restart');
    },
    async isActive() {
      s.calls.push('isActive');
      if (s.failOn.has('isActive')) throw new ServiceError('SERVICE_FAILED', 'injected');
      return s.active;
    },
  };
  return s;
}

/** Default config with restore settings suitable for tests (short post-verify wait). */
export function testConfig(extra: Record<string, unknown> = {}): ConductorConfig {
  return conductorSchema.parse({ restore: { postVerifyTimeoutMs: 0 }, ...extra });
}

/**
 * A freshly initialised conductor: the install's folder skeleton (salt/pki 0700 as on `src`), and
 * global.init and local.init as initialize128t leaves them (same content and times as on `src`).
 */
export function rebuiltTarget(src: string, dst: string): void {
  mkdirSync(join(dst, 'etc/128technology/salt/pki'), { recursive: true, mode: 0o700 });
  chmodSync(join(dst, 'etc'), 0o755);
  chmodSync(join(dst, 'etc/128technology'), 0o755);
  mkdirSync(join(dst, 'var/lib'), { recursive: true, mode: 0o755 });
  for (const f of ['global.init', 'local.init']) {
    copyFileSync(join(src, 'etc/128technology', f), join(dst, 'etc/128technology', f));
    const st = lstatSync(join(src, 'etc/128technology', f));
    utimesSync(join(dst, 'etc/128technology', f), st.atime, st.mtime);
  }
}

/** The journal folder (excluded from snapshots only where a test expects a journal to remain). */
export const JOURNAL_DIR = '/var/lib/ssr-recovery-restore';

/**
 * A backed-up conductor and a drifted copy of it to restore over: the running config changed and one
 * state file removed since the backup, so a restore must replace, add and keep.
 */
export async function backupAndDriftedTemplate(
  prefix: string,
  config: ConductorConfig,
): Promise<{
  tmp: { dir: string; cleanup: () => Promise<void> };
  src: string;
  archive: string;
  template: string;
}> {
  const { makeTmpDir } = await import('../helpers/tmpdir.js');
  const { makeConductorTree } = await import('../../sandbox/conductor-tree.js');
  const { createBackup } = await import('../../conductor-agent/backup/run.js');
  const { promises: fsp, writeFileSync, unlinkSync } = await import('node:fs');
  const tmp = await makeTmpDir(prefix);
  const src = join(tmp.dir, 'src');
  await makeConductorTree(src, { routers: 10, minions: 3, states: 8 });
  const archive = (await createBackup({ config, root: src, hostname: 'cond1', dir: '/backups' })).archive;
  const template = join(tmp.dir, 'template');
  await fsp.cp(src, template, { recursive: true, preserveTimestamps: true });
  await fsp.rm(join(template, 'backups'), { recursive: true });
  writeFileSync(join(template, 'var/lib/128technology/t128-running.json'), '{"datastore":{"drifted":true}}\n');
  unlinkSync(join(template, 'srv/salt/s3/f3.sls'));
  return { tmp, src, archive, template };
}

/** The files every conductor backup holds (the seed's list), as system paths. */
export const BASE_FILES = [
  '/etc/128technology/global.init',
  '/etc/128technology/local.init',
  '/etc/128technology/salt/pki/master/master.pem',
  '/etc/128technology/salt/pki/master/master.pub',
  '/var/lib/128technology/t128-running.json',
  '/var/lib/128technology/user-running.json',
];

/**
 * What the operator keeps off-box (docs/backups.md): the fingerprint of the conductor-agent identity
 * that signed `src`'s backups. A rebuilt target has no identity of its own, so its restores name it.
 */
export async function signerOf(src: string, config: ConductorConfig): Promise<ReadonlySet<string>> {
  const { resolveTrustedSigners } = await import('../../conductor-agent/backup/signer.js');
  const { underRoot } = await import('../../shared/config/schema.js');
  return (await resolveTrustedSigners({ config, path: (p) => underRoot(src, p) })).fingerprints;
}

/** Restore ports for tests: a recording 128T fake, recorded owner ids, no durability flush. */
export function testPorts(): {
  services: FakeService[];
  owners: typeof numericOwnerIdsRef;
  flush: () => Promise<void>;
} {
  return { services: [fakeService()], owners: numericOwnerIdsRef, flush: async () => undefined };
}
