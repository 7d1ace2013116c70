/**
 * fleet: `conductor-agent reauth --all` at 10,000 routers (FLEET_N to change), all stale after the
 * conductor was rebuilt with a new master key and without its minion keys, so every returning
 * minion is held pending and the key gate and `test.ping` through salt-api run inside the timed
 * wave. Real parts: the conductor-agent daemon and the reauth CLI as processes (dist/), real wss on
 * loopback, the real router-agent client and protocol code (several processes, agents spread over
 * loopback source addresses), the Salt master simulator + salt-api emulator (real key files);
 * the minions are simulated on the master simulator's wire protocol.
 * Figures: wave wall time (target < 30 s, rate limit off), daemon RSS at N connections (target
 * < 300 MB), achieved start rate with `--rate R` on a subset after a second rekey (within 10 %).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { keyFingerprint, loadPublicKey } from '../../shared/protocol/signing-keys.js';
import { readConductorIdentityPublic } from '../../conductor-agent/identity/agent-key.js';
import { startSaltSandbox } from '../../sandbox/saltapi-emulator/sandbox.js';
import { makeTmpDir } from '../helpers/tmpdir.js';
import type { BenchResult } from './run.js';
import { freePort } from '../../shared/net/free-port.js';
import { unitCommand } from './unit-command.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
/** What an operator runs: the package's `conductor-agent` bin (the release bundle). */
const bin = join(repo, 'dist/conductor-agent/bundle/conductor-agent.js');
const N = Number(process.env.FLEET_N ?? 10_000);
const PROCS = Number(process.env.FLEET_PROCS ?? 4);
const RATE = Number(process.env.FLEET_RATE ?? 100);
const CONCURRENCY = Number(process.env.FLEET_CONCURRENCY ?? 1000);

function waitFor(
  child: ChildProcess,
  stream: 'stdout' | 'stderr',
  re: RegExp,
  ms: number,
  what: string,
): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const t = setTimeout(() => reject(new Error(`timed out waiting for ${what}: ${buf.slice(-2000)}`)), ms);
    child[stream]!.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      const m = re.exec(buf);
      if (m) {
        clearTimeout(t);
        resolve(m[0]);
      }
    });
    child.once('exit', (c) => {
      clearTimeout(t);
      reject(new Error(`${what}: exited ${c}: ${buf.slice(-2000)}`));
    });
  });
}

/** CPU seconds (user + system) a process has used so far. */
function cpuS(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) / 1024;
}

/** The parts of `reauth --json` the bench reads. */
interface WaveDoc {
  totals?: { done?: number; routers?: number };
  rate?: { achieved?: number | null };
  elapsedMs?: number;
  routers?: {
    routerId: string;
    state: string;
    code?: string;
    message?: string;
    startedAt?: string;
    timings?: Record<string, number>;
  }[];
}

async function cli(
  root: string,
  args: string[],
): Promise<{ ms: number; doc: WaveDoc; code: number | null; cpuS: number }> {
  const t0 = process.hrtime.bigint();
  const nodeArgs = (process.env.FLEET_CLI_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, bin, 'reauth', ...args, '--json', '--root', root], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    err += d;
  });
  // Its CPU time: the last reading before it exits (/proc forgets it after).
  let cpu = 0;
  const sample = setInterval(() => {
    try {
      cpu = cpuS(child.pid!);
    } catch {
      /* exited */
    }
  }, 100);
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  clearInterval(sample);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  try {
    return { ms, doc: JSON.parse(out) as WaveDoc, code, cpuS: cpu };
  } catch {
    throw new Error(`reauth printed no JSON (exit ${code}): ${err.slice(-3000)}`);
  }
}

/** Conductor tree: salt sandbox, config, a registry with N enrolled agents; returns the agents' keys. */
async function conductorTree(root: string, sb: Awaited<ReturnType<typeof startSaltSandbox>>, port: number) {
  mkdirSync(join(root, 'etc/ssr-recovery'), { recursive: true });
  writeFileSync(
    join(root, 'etc/ssr-recovery/conductor-agent.yaml'),
    JSON.stringify({
      agents: { listen: `127.21.0.1:${port}`, heartbeatMs: 120_000 },
      log: { level: 'info' },
      saltApi: {
        url: sb.url,
        username: sb.username,
        eauth: sb.eauth,
        passwordFile: '/etc/ssr-recovery/salt-api.secret',
      },
      reauth: { concurrency: 1000, verifyTimeoutSeconds: 60, routerTimeoutSeconds: 60 },
      observe: { listen: '127.21.0.1:0' }, // on, as installed; never the fixed default port
    }),
  );
  const routers: { id: string; agentPrivatePem: string; minionKey: number }[] = [];
  const doc: { version: 1; routers: Record<string, unknown> } = { version: 1, routers: {} };
  const now = new Date().toISOString();
  for (let i = 0; i < N; i++) {
    const id = `r${String(i).padStart(5, '0')}`;
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const pub = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    doc.routers[id] = {
      minionId: id,
      agentPublicKey: pub,
      fingerprint: keyFingerprint(loadPublicKey(pub)),
      source: 'salt-event',
      enrolledAt: now,
      seenAt: now,
    };
    routers.push({
      id,
      agentPrivatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      minionKey: i % 16,
    });
  }
  mkdirSync(join(root, 'var/lib/ssr-recovery'), { recursive: true, mode: 0o700 });
  writeFileSync(join(root, 'var/lib/ssr-recovery/agent-registry.json'), JSON.stringify(doc), { mode: 0o600 });
  return routers;
}

export async function run(): Promise<BenchResult[]> {
  const { dir: root, cleanup } = await makeTmpDir('ssr-fleet-bench-');
  const children: ChildProcess[] = [];
  const sb = await startSaltSandbox({ root, host: '127.21.0.2', masterConfig: { auto_accept: false, timeout: 10 } });
  try {
    const port = await freePort('127.21.0.1');
    const routers = await conductorTree(root, sb, port);
    const nodeArgs = (process.env.FLEET_DAEMON_NODE_ARGS ?? '').split(' ').filter(Boolean);
    // The daemon as its systemd unit starts it (node options and script read from ExecStart).
    // FLEET_DAEMON_WRAP: a command to run the daemon under (`heaptrack -o /tmp/d`); its RSS is then the wrapper's.
    const wrap = (process.env.FLEET_DAEMON_WRAP ?? '').split(' ').filter(Boolean);
    const daemonArgv = [
      ...wrap,
      process.execPath,
      ...nodeArgs,
      ...unitCommand('conductor-agent.service'),
      'daemon',
      '--root',
      root,
    ];
    const daemon = spawn(daemonArgv[0]!, daemonArgv.slice(1), {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    children.push(daemon);
    await waitFor(daemon, 'stderr', /serving router agents/, 60_000, 'daemon');
    const identity = (await readConductorIdentityPublic(join(root, 'var/lib/ssr-recovery')))!;
    // The disaster: a new master key, no minion keys; nothing auto-accepted.
    await sb.master.pki.writeKeyPair('master');
    await sb.master.restart();
    const minionPubs = Array.from({ length: 16 }, () =>
      generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    );
    const per = Math.ceil(N / PROCS);
    const counts: number[] = [];
    const t0 = Date.now();
    for (let p = 0; p < PROCS; p++) {
      const file = join(root, `routers-${p}.json`);
      writeFileSync(
        file,
        JSON.stringify({
          url: `wss://127.21.0.1:${port}/ssr-recovery/agent/v1`,
          certFingerprint: identity.certFingerprint,
          conductorPublicPem: identity.agentPublicKey,
          master: sb.master.address,
          localAddresses: Array.from({ length: 5 }, (_, k) => `127.21.${10 + p}.${k + 1}`),
          minionPubs,
          routers: routers.slice(p * per, (p + 1) * per),
        }),
      );
      const routerArgs = (process.env.FLEET_ROUTER_NODE_ARGS ?? '').split(' ').filter(Boolean);
      const c = spawn(
        process.execPath,
        [...routerArgs, '--import', 'tsx', join(repo, 'test/bench/fleet-routers.ts'), file],
        {
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      children.push(c);
      counts[p] = 0;
      c.stdout!.setEncoding('utf8').on('data', (d: string) => {
        for (const m of d.matchAll(/ready (\d+) of \d+ (\{.*\})/g)) {
          counts[p] = Number(m[1]);
          if (process.env.FLEET_DEBUG && m[2] !== '{}') console.error(`router process ${p}: ${m[0]}`);
        }
      });
    }
    // Until every agent is connected, or no progress for 60 s (then the figures say how many were).
    let last = -1;
    let lastChange = Date.now();
    for (;;) {
      const sum = counts.reduce((a, b) => a + b, 0);
      if (sum !== last) {
        last = sum;
        lastChange = Date.now();
      }
      if (sum >= N || (sum > 0 && Date.now() - lastChange > 60_000) || Date.now() - t0 > 900_000) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    const connected = last;
    const connectS = (Date.now() - t0) / 1000;
    await new Promise((r) => setTimeout(r, 3000)); // trust reports land, registry settles
    const rss = rssMb(daemon.pid!);
    if (process.env.FLEET_DEBUG) console.error(readFileSync(`/proc/${daemon.pid}/smaps_rollup`, 'utf8'));
    if (process.env.FLEET_HEAPSNAP) {
      daemon.kill('SIGUSR2');
      await new Promise((r) => setTimeout(r, Number(process.env.FLEET_HEAPSNAP)));
    }
    // FLEET_DEBUG: when each minion first showed up pending and was accepted, as the master saw it.
    const firstPend = new Map<string, number>();
    const accepted = new Map<string, number>();
    const off = process.env.FLEET_DEBUG
      ? sb.master.bus.subscribe((e) => {
          const id = String(e.data.id ?? '');
          if (e.tag !== 'salt/auth') return;
          if (e.data.act === 'pend' && !firstPend.has(id)) firstPend.set(id, Date.now());
          if (e.data.act === 'accept' && !accepted.has(id)) accepted.set(id, Date.now());
        })
      : () => undefined;
    const cpu0 = children.map((c) => cpuS(c.pid!));
    const self0 = process.cpuUsage();
    const wave = await cli(root, ['--all', '--rate', '0', '--concurrency', String(CONCURRENCY)]);
    const cpu1 = children.map((c, k) => cpuS(c.pid!) - cpu0[k]!);
    const self1 = process.cpuUsage(self0);
    if (process.env.FLEET_DEBUG) {
      console.error(
        `wave CPU s: daemon ${cpu1[0]!.toFixed(1)}, routers ${cpu1.slice(1).map((x) => x.toFixed(1))}, ` +
          `bench (master + salt-api) ${((self1.user + self1.system) / 1e6).toFixed(1)}, cli ${wave.cpuS.toFixed(1)}`,
      );
    }
    const done = wave.doc.totals?.done ?? 0;
    if (process.env.FLEET_DEBUG) {
      const rs = wave.doc.routers ?? [];
      console.error(JSON.stringify(rs.filter((r) => r.state !== 'done').slice(0, 5)));
      const t = rs.filter((r) => r.timings).map((r) => r.timings!);
      const q = (k: string) =>
        t
          .map((x) => x[k] ?? -1)
          .sort((a, b) => a - b)
          .filter((_, i, a) => i === 0 || i === a.length >> 1 || i === a.length - 1);
      const d = (a: string, b: string) =>
        t
          .map((x) => (x[a] ?? NaN) - (x[b] ?? 0))
          .sort((x, y) => x - y)
          .filter((_, i, arr) => i === 0 || i === arr.length >> 2 || i === arr.length >> 1 || i === arr.length - 1);
      console.error(
        'agentDone',
        q('agentDone'),
        'keyAccepted',
        q('keyAccepted'),
        'pinged',
        q('pinged'),
        'elapsed',
        wave.doc.elapsedMs,
      );
      off();
      const started = new Map(rs.map((r) => [r.routerId, Date.parse(r.startedAt ?? '')]));
      const qs = (xs: number[]) =>
        xs
          .sort((x, y) => x - y)
          .filter((_, i, arr) => i === 0 || i === arr.length >> 2 || i === arr.length >> 1 || i === arr.length - 1);
      console.error(
        'firstPend-start',
        qs([...firstPend].map(([id, at]) => at - started.get(id)!)),
        'masterAccept-firstPend',
        qs([...accepted].filter(([id]) => firstPend.has(id)).map(([id, at]) => at - firstPend.get(id)!)),
      );
      console.error(
        'agentDone-keyAccepted',
        d('agentDone', 'keyAccepted'),
        'pinged-agentDone',
        d('pinged', 'agentDone'),
      );
    }
    const rssAfter = rssMb(daemon.pid!);
    // A second rekey, then a rate-limited wave on a subset: the achieved start rate vs --rate.
    await sb.master.pki.writeKeyPair('master');
    await sb.master.restart();
    // 2,000 routers (r00000–r01999) at 10,000: 20 s at --rate 100, long enough for the rate to mean something.
    const glob = N > 2000 ? 'r0[01]*' : '*';
    const limited = await cli(root, ['--routers', glob, '--rate', String(RATE), '--concurrency', '1000']);
    const achieved = Number(limited.doc.rate?.achieved ?? 0);
    const limitedN = limited.doc.totals?.routers ?? 0;
    return [
      {
        name: 'fleet',
        measure: `reauth --all, ${N} stale routers (key gate + test.ping in the wave), rate limit off: ${done} done, exit ${wave.code}`,
        value: wave.ms / 1000,
        unit: 's',
        target: '< 30 s, all done',
        pass: wave.ms < 30_000 && done === N,
      },
      {
        name: 'fleet',
        measure: `conductor-agent daemon RSS at ${connected} of ${N} agent connections (connected in ${connectS.toFixed(0)} s; after the wave: ${rssAfter.toFixed(0)} MB)`,
        value: rss,
        unit: 'MB',
        target: '< 300 MB',
        pass: rss < 300 && rssAfter < 300,
      },
      {
        name: 'fleet',
        measure: `achieved start rate with --rate ${RATE} over ${limitedN} routers (${limited.doc.totals?.done ?? 0} done)`,
        value: achieved,
        unit: '/s',
        baseline: RATE,
        ratio: achieved / RATE,
        target: 'within 10 % of --rate',
        pass: Math.abs(achieved / RATE - 1) <= 0.1,
      },
    ];
  } finally {
    for (const c of children.reverse())
      if (c.exitCode === null) {
        c.kill('SIGTERM');
        await new Promise((r) => {
          c.once('exit', r);
          setTimeout(r, 5000);
        });
      }
    await sb.close();
    await cleanup();
  }
}
