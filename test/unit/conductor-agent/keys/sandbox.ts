// A small master sandbox for the key tests: a conductor tree (real RSA keys) plus a master config.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import sinon from 'sinon';
import { makeConductorTree, rsaPair } from '../../../../sandbox/conductor-tree.js';
import { makeTmpDir } from '../../../helpers/tmpdir.js';
import type { Clock } from '../../../../shared/ports/clock.js';
import type { ServiceControl } from '../../../../shared/ports/service-control.js';
import type { MinionProbe, SigningReport } from '../../../../conductor-agent/keys/minion-probe.js';

export interface KeySandbox {
  root: string;
  pkiDir: string;
  masterConfig: string;
  exportDir: string;
  rotationsDir: string;
  minionIds: string[];
  cleanup: () => Promise<void>;
}

export const MASTER_CONFIG_TEXT =
  '# SSR conductor salt master (sandbox)\ninterface: 0.0.0.0\nfile_roots:\n  base:\n    - /srv/salt\n';

export async function keySandbox(
  opts: { minions?: number; pending?: number; config?: string } = {},
): Promise<KeySandbox> {
  const { dir, cleanup } = await makeTmpDir('ssr-keys-');
  const tree = await makeConductorTree(dir, {
    minions: opts.minions ?? 3,
    pending: opts.pending ?? 0,
    routers: 1,
    states: 1,
  });
  const masterConfig = join(dir, 'etc/128technology/salt/master');
  await mkdir(dirname(masterConfig), { recursive: true });
  await writeFile(masterConfig, opts.config ?? MASTER_CONFIG_TEXT);
  return {
    root: dir,
    pkiDir: join(dir, 'etc/128technology/salt/pki/master'),
    masterConfig,
    exportDir: join(dir, 'srv/salt/ssr_recovery/files'),
    rotationsDir: join(dir, 'var/lib/ssr-recovery/keys/rotations'),
    minionIds: tree.minionIds,
    cleanup,
  };
}

export { rsaPair };

/** A clock whose sleep advances time at once (the wait loop runs without real delays). */
export function steppingClock(start = Date.parse('2026-11-24T12:00:00Z')): Clock {
  let t = start;
  return {
    now: () => t,
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (x) => clearTimeout(x),
    sleep: async (ms) => {
      t += ms;
    },
  };
}

export function fakeService(): ServiceControl & { restart: sinon.SinonStub } {
  return {
    name: 'salt-master',
    start: async () => undefined,
    stop: async () => undefined,
    restart: sinon.stub().resolves(),
    isActive: async () => true,
  } as ServiceControl & { restart: sinon.SinonStub };
}

/** A probe that reports every listed minion as verifying with `signFinger`, except the overrides. */
export function fakeProbe(
  signFinger: () => string,
  overrides: Record<string, Partial<SigningReport>> = {},
  silent: string[] = [],
): MinionProbe {
  return {
    async signingReports(ids) {
      return new Map(
        ids.map((id) => [
          id,
          { id, responded: true, verifies: true, signKeyFingerprint: signFinger(), ...overrides[id] },
        ]),
      );
    },
    async ping(ids) {
      return new Set(ids.filter((id) => !silent.includes(id)));
    },
  };
}

/** Every file under `dir` with its content and mode, to prove a dry run or a refusal changed nothing. */
export async function treeSnapshot(dir: string): Promise<Map<string, string>> {
  const { readdir, readFile, lstat } = await import('node:fs/promises');
  const out = new Map<string, string>();
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        out.set(`${p}/`, ((await lstat(p)).mode & 0o777).toString(8));
        await walk(p);
      } else out.set(p, `${((await lstat(p)).mode & 0o777).toString(8)}:${await readFile(p, 'base64')}`);
    }
  };
  await walk(dir);
  return out;
}
