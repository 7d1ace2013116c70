/**
 * router-agent: start time of `--version` and of `daemon` until its ready line, and idle memory
 * (RSS) of the daemon once connected to a conductor-agent, run exactly as the systemd unit runs it:
 * the node arguments and script of ExecStart in salt-states/ssr_recovery/files/router-agent.service
 * (today the one-file bundle dist/router-agent/router-agent.cjs), read from the unit so the two
 * cannot drift. The tsc tree's bin (dist/router-agent/bin.js, the npm `bin`) is measured beside it
 * for information. Baseline: `node -e 0` start in the same run.
 * The config is JSON (valid YAML), as the salt state renders it, so the agent's fast config path is used.
 * "Ready" is the daemon's ready line: key loaded, interrupted runs finished, trust state known and
 * watched; conductor links connect asynchronously (the idle measurement waits until connected).
 * RSS includes the node runtime's own pages, so a bare node process's idle RSS is reported beside it.
 * Targets (DESIGN.md): start < 150 ms, idle memory < 45 MB.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchResult } from './run.js';
import { makeTmpDir } from '../helpers/tmpdir.js';
import { startConductorSide } from '../helpers/agents.js';
import { unitCommand } from './unit-command.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const treeBin = join(repo, 'dist/router-agent/bin.js');

const RUNS = 15;
const IDLE_MS = 10_000;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function timeSync(args: string[]): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { stdio: 'ignore' });
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}`);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

async function daemonToReady(
  cmd: string[],
  root: string,
): Promise<{ ms: number; stop: () => Promise<void>; pid: number }> {
  const t0 = process.hrtime.bigint();
  const child = spawn(process.execPath, [...cmd, 'daemon', '--json', '--root', root], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.includes('"ready":true')) resolve();
    });
    child.once('exit', (c) => reject(new Error(`daemon exited ${c} before ready`)));
  });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  return {
    ms,
    pid: child.pid!,
    stop: () =>
      new Promise<void>((r) => {
        child.once('exit', () => r());
        child.kill('SIGTERM');
      }),
  };
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Private anonymous memory (heap, stacks; not the shared node binary pages). */
function anonMb(pid: number): number {
  const m = /Anonymous:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Idle RSS of a bare node process (the runtime's own floor), measured the same way. */
async function bareNodeRss(idleMs: number): Promise<{ rss: number; anon: number }> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, idleMs));
  const out = { rss: rssMb(child.pid!), anon: anonMb(child.pid!) };
  child.kill('SIGTERM');
  return out;
}

export async function run(): Promise<BenchResult[]> {
  const { dir, cleanup } = await makeTmpDir('ssr-bench-router-');
  const conductor = await startConductorSide(dir, { host: '127.0.0.2' });
  try {
    // A router tree: minion config, a cached key, an empty log; the minion "service" is a no-op command.
    const root = join(dir, 'router');
    mkdirSync(join(root, 'etc/salt/pki/minion'), { recursive: true });
    mkdirSync(join(root, 'etc/salt/minion.d'), { recursive: true });
    mkdirSync(join(root, 'var/log/salt'), { recursive: true });
    mkdirSync(join(root, 'etc/ssr-recovery'), { recursive: true });
    writeFileSync(join(root, 'etc/salt/minion'), 'id: bench-router\nmaster: 127.0.0.2\n');
    writeFileSync(join(root, 'var/log/salt/minion'), '');
    writeFileSync(
      join(root, 'etc/ssr-recovery/router-agent.yaml'),
      JSON.stringify({
        conductor: {
          addresses: [`127.0.0.2:${conductor.server.port}`],
          agentPublicKey: conductor.identity.signing.publicPem,
          certFingerprint: conductor.identity.certFingerprint,
        },
        agent: { saltCall: 'true' },
        services: { minion: { start: 'true', stop: 'true', restart: 'true', isActive: 'true' } },
        observe: { listen: '127.0.0.1:0' }, // measured with the metrics endpoint on, as installed
        log: { level: 'warn' },
      }),
    );
    const bare = await bareNodeRss(IDLE_MS);
    const results: BenchResult[] = [];
    const unit = unitCommand('router-agent.service');
    for (const [label, cmd, judged] of [
      ['as the systemd unit runs it', unit, true],
      ['dist tree bin', [treeBin], false],
    ] as const) {
      const baseline: number[] = [];
      const version: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        baseline.push(timeSync(['-e', '0']));
        version.push(timeSync([...cmd, '--version']));
      }
      const ready: number[] = [];
      for (let i = 0; i < 7; i++) {
        const d = await daemonToReady([...cmd], root);
        ready.push(d.ms);
        await d.stop();
      }
      const d = await daemonToReady([...cmd], root);
      const deadline = Date.now() + 10_000;
      while (
        !conductor.server.fleet().some((e) => e.routerId === 'bench-router' && e.connected) &&
        Date.now() < deadline
      )
        await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, IDLE_MS)); // idle: connected, heartbeats, trust polls
      const rss = rssMb(d.pid);
      const anon = anonMb(d.pid);
      await d.stop();
      const base = median(baseline);
      const v = median(version);
      const r = median(ready);
      const name = `router-agent (${label})`;
      const target = (t: string): string => (judged ? t : `${t} (informational: the unit runs the bundle)`);
      results.push(
        {
          name,
          measure: `--version start to exit (median of ${RUNS})`,
          value: v,
          unit: 'ms',
          baseline: base,
          ratio: v / base,
          target: target('< 150 ms'),
          pass: v < 150,
        },
        {
          name,
          measure: 'daemon start to ready line (median of 7)',
          value: r,
          unit: 'ms',
          baseline: base,
          ratio: r / base,
          target: target('< 150 ms'),
          pass: r < 150,
        },
        {
          name,
          measure: 'daemon idle RSS, connected (baseline: bare node idle RSS)',
          value: rss,
          unit: 'MB',
          baseline: bare.rss,
          ratio: rss / bare.rss,
          target: target('< 45 MB'),
          pass: rss < 45,
        },
        {
          name,
          measure: 'daemon idle private anonymous memory (baseline: bare node)',
          value: anon,
          unit: 'MB',
          baseline: bare.anon,
          ratio: anon / bare.anon,
          target: 'informational',
          pass: true,
        },
      );
    }
    return results;
  } finally {
    await conductor.server.close();
    await cleanup();
  }
}
