/**
 * fleet-ssh: the SSH fallback (conductor-agent/ssh/steps.ts through `sshReauthChannel`, ssh2) vs
 * Debian's `parallel-ssh` (pssh) on the same 100 loopback routers (FLEET_SSH_N): real OpenSSH sshd
 * processes (FLEET_SSH_SSHDS, each on many 127.22.x.y addresses and ports), a stand-in minion on each
 * (fleet-ssh-hosts.ts). Both sides run the same steps — read minion.pub, stop and wait until down,
 * write the master_finger drop-in (tmp + rename, content on stdin), move the stale key aside, start,
 * confirm (the pinned key cached and the minion up for the same settle time, same poll interval) —
 * with the same parallelism (FLEET_SSH_P), the same client key and known_hosts (host keys pinned,
 * nothing learned). pssh runs them as one shell script per host; every host is checked afterwards
 * (pin written, pinned key cached, minion up) so neither side can win by skipping work.
 * Figure: our wall time vs pssh's, as a speed ratio (pssh / ours; target ≥ 1.0×, moonshot 2×).
 */
import { spawn, spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { parseKnownHosts } from '../../conductor-agent/ssh/known-hosts.js';
import { parseInventory } from '../../conductor-agent/ssh/inventory.js';
import { buildSshRoutes } from '../../conductor-agent/ssh/routes.js';
import { PIN_DROP_IN, pinContent, sshReauthChannel } from '../../conductor-agent/ssh/steps.js';
import { Slots } from '../../conductor-agent/fleet/rate.js';
import { systemClock } from '../../shared/ports/clock.js';
import { nullLogger } from '../../shared/log/logger.js';
import { pemFinger } from '../../shared/salt/fingerprint.js';
import { makeTmpDir } from '../helpers/tmpdir.js';
import { resetHosts, startBenchFleet, type BenchFleet } from './fleet-ssh-hosts.js';
import type { BenchResult } from './run.js';

const N = Number(process.env.FLEET_SSH_N ?? 100);
const SSHDS = Number(process.env.FLEET_SSH_SSHDS ?? 8);
const P = Number(process.env.FLEET_SSH_P ?? 32);
const ROUNDS = Number(process.env.FLEET_SSH_ROUNDS ?? 2);
const SETTLE_MS = 500;
const POLL_MS = 100;
const TIMEOUT_S = 120;

/** pssh is Debian's `pssh` package (`parallel-ssh`); the bench may install it, as test/setup does. */
function ensurePssh(): string {
  const bin = '/usr/bin/parallel-ssh';
  if (existsSync(bin)) return bin;
  console.error('fleet-ssh: installing Debian pssh (apt-get) for the baseline');
  const lock = '-o DPkg::Lock::Timeout=300';
  const r = spawnSync(
    'sh',
    ['-c', `DEBIAN_FRONTEND=noninteractive apt-get ${lock} install -y --no-install-recommends pssh`],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  if (r.status !== 0 || !existsSync(bin)) throw new Error('fleet-ssh needs pssh: apt-get install pssh');
  return bin;
}

/** The same steps as steps.ts, as the one script pssh runs on each host (router root from $SSH_CONNECTION). */
function psshScript(hostsDir: string, finger: string): string {
  const s = (ms: number): string => (ms / 1000).toFixed(3);
  return [
    'set -e',
    `R='${hostsDir}'/$(set -- $SSH_CONNECTION; echo "$3-$4")`,
    `P="$R/etc/salt/pki/minion"; C="$R/etc/salt"; S="$R/minion-service"; D="$C/minion.d/${PIN_DROP_IN}"`,
    `F='${finger}'`,
    'now() { date +%s%3N; }',
    `end=$(( $(now) + ${TIMEOUT_S * 1000} ))`,
    'cat -- "$P/minion.pub"',
    '"$S" stop',
    `while "$S" is-active; do [ $(now) -lt $end ] || exit 124; sleep ${s(POLL_MS)}; done`,
    'mkdir -p -- "$C/minion.d"',
    'cat > "$D.tmp"',
    'mv -f -- "$D.tmp" "$D"',
    'if test -e "$P/minion_master.pub"; then mv -f -- "$P/minion_master.pub" "$P/minion_master.pub.ssr-recovery-stale"; fi',
    '"$S" start',
    'since=',
    'while :; do',
    '  up=0; "$S" is-active && up=1',
    '  k=$(cat -- "$P/minion_master.pub" 2>/dev/null) || k=; fp=',
    '  [ -n "$k" ] && fp=$(printf "%s\\n" "$k" | grep -v -- ----- | sha256sum | cut -c1-64 | sed "s/../&:/g; s/:$//")',
    '  if [ -n "$fp" ] && [ "$fp" != "$F" ]; then rm -f -- "$P/minion_master.pub"; exit 3; fi',
    `  if [ $up = 1 ] && [ "$fp" = "$F" ]; then since=\${since:-$(now)}; [ $(( $(now) - since )) -ge ${SETTLE_MS} ] && exit 0;`,
    '  else since=; fi',
    `  [ $(now) -lt $end ] || exit 124; sleep ${s(POLL_MS)}`,
    'done',
  ].join('\n');
}

async function runPssh(bin: string, fleet: BenchFleet, finger: string): Promise<number> {
  const t0 = process.hrtime.bigint();
  const args = [
    ...['-h', fleet.hostListFile, '-p', String(P), '-t', String(TIMEOUT_S), '-I'],
    ...['-O', `IdentityFile=${fleet.clientKeyFile}`, '-O', `UserKnownHostsFile=${fleet.knownHostsFile}`],
    ...['-O', 'StrictHostKeyChecking=yes', '-O', 'BatchMode=yes', '-O', 'GlobalKnownHostsFile=/dev/null'],
    psshScript(fleet.hostsDir, finger),
  ];
  const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stdin.end(pinContent(finger));
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const ok = (out.match(/\[SUCCESS\]/g) ?? []).length;
  if (code !== 0 || ok !== fleet.hosts.length)
    throw new Error(`parallel-ssh: exit ${code}, ${ok}/${fleet.hosts.length} succeeded:\n${out.slice(-3000)}`);
  return ms;
}

async function runOurs(fleet: BenchFleet, finger: string): Promise<number> {
  const inventory = parseInventory(
    JSON.stringify(
      fleet.hosts.map((h) => ({
        minion: h.id,
        host: h.host,
        port: h.port,
        user: 'root',
        keyFile: fleet.clientKeyFile,
        sudo: false,
        serviceCommand: join(h.root, 'minion-service'),
        configDir: join(h.root, 'etc/salt'),
        pkiDir: join(h.root, 'etc/salt/pki/minion'),
      })),
    ),
  );
  const routes = buildSshRoutes({
    tunnels: [],
    inventory,
    knownHosts: parseKnownHosts(await fsp.readFile(fleet.knownHostsFile, 'utf8')),
    reportedHostKeys: new Map(),
    defaultUser: 'root',
  });
  const channel = sshReauthChannel({
    inventory,
    defaults: { user: 'root', sudo: false },
    clock: systemClock,
    logger: nullLogger,
    settleMs: SETTLE_MS,
    pollMs: POLL_MS,
  });
  const slots = new Slots(P);
  const t0 = process.hrtime.bigint();
  const results = await Promise.all(
    fleet.hosts.map(async (h) => {
      await slots.take();
      try {
        return await channel.reauth(h.id, routes.get(h.id)![0]!, finger, { timeoutMs: TIMEOUT_S * 1000 });
      } finally {
        slots.release();
      }
    }),
  );
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const bad = results.filter((r) => !r.ok);
  if (bad.length) throw new Error(`ssh fallback: ${bad.length} failed: ${JSON.stringify(bad.slice(0, 3))}`);
  return ms;
}

/** Every router pinned, the pinned key cached, the minion up: the work was done. */
async function checkHosts(fleet: BenchFleet, finger: string, side: string): Promise<void> {
  for (const h of fleet.hosts) {
    const pin = await fsp.readFile(join(h.root, 'etc/salt/minion.d', PIN_DROP_IN), 'utf8');
    const cached = await fsp.readFile(join(h.root, 'etc/salt/pki/minion/minion_master.pub'), 'utf8');
    const up = spawnSync(join(h.root, 'minion-service'), ['is-active']).status === 0;
    if (!pin.includes(finger) || pemFinger(cached) !== finger || !up)
      throw new Error(`${side}: ${h.id} (${h.host}:${h.port}) was not re-authenticated`);
  }
}

export async function run(): Promise<BenchResult[]> {
  const pssh = ensurePssh();
  const { dir, cleanup } = await makeTmpDir('ssr-bench-fleet-ssh-');
  const fleet = await startBenchFleet(dir, N, SSHDS);
  const stale = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' });
  const finger = pemFinger(fleet.masterPub);
  const ours: number[] = [];
  const theirs: number[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      await resetHosts(fleet, stale.toString());
      ours.push(await runOurs(fleet, finger));
      await checkHosts(fleet, finger, 'ssh fallback');
      console.error(`fleet-ssh round ${round + 1}: ours ${ours.at(-1)!.toFixed(0)} ms`);
      await resetHosts(fleet, stale.toString());
      theirs.push(await runPssh(pssh, fleet, finger));
      await checkHosts(fleet, finger, 'parallel-ssh');
      console.error(`fleet-ssh round ${round + 1}: pssh ${theirs.at(-1)!.toFixed(0)} ms`);
    }
  } finally {
    await fleet.stop();
    await cleanup();
  }
  const best = (xs: number[]): number => Math.min(...xs);
  const ratio = best(theirs) / best(ours);
  return [
    {
      name: 'fleet-ssh',
      measure: `SSH fallback, ${N} hosts on ${Math.max(SSHDS, Math.ceil(N / 16))} sshd, parallelism ${P}, best of ${ROUNDS} (speed vs parallel-ssh)`,
      value: best(ours) / 1000,
      unit: 's',
      baseline: best(theirs) / 1000,
      ratio,
      target: '≥ 1.0× (moonshot 2×)',
      pass: ratio >= 1,
    },
  ];
}
