/**
 * The loopback "routers" of the SSH benchmark: a few real OpenSSH sshd processes, each listening on
 * many 127.22.x.y addresses at their own ports (one address + port = one router), and on each router
 * a stand-in salt-minion that behaves like the real one for the steps: a service command whose
 * `start` runs a minion process that authenticates (caches `master.pub` as `minion_master.pub`,
 * after a short delay) and stays up, whose `stop` sends SIGTERM and returns once the process is gone
 * (the minion takes a moment to exit), and whose `is-active` checks the process. The key is cached
 * with tmp + rename so neither side reads it half-written (that race is not what is measured).
 * Both sides of the benchmark reach the same routers with the same client key and known_hosts.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { promises as fsp, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSshd, sshdConfigText, sshKeygen } from '../../sandbox/sshd.js';
import { freePort } from '../../shared/net/free-port.js';

export interface BenchHost {
  id: string;
  host: string;
  port: number;
  /** The router's filesystem root (etc/salt, minion-service). */
  root: string;
}

export interface BenchFleet {
  hosts: BenchHost[];
  clientKeyFile: string;
  knownHostsFile: string;
  /** `user@host:port` lines for parallel-ssh -h. */
  hostListFile: string;
  hostsDir: string;
  masterPub: string;
  stop(): Promise<void>;
}

const rsaPub = (): string =>
  generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();

const keygen = (file: string): void => sshKeygen(file, 'ssr-bench');

/** The stand-in minion's service command (systemctl-like verbs on one unit). */
function serviceScript(root: string): string {
  return [
    '#!/bin/sh',
    `R='${root}'`,
    'P="$R/minion.pid"',
    // a zombie is down (pid 1 in a container may not reap the minion once its starter exited)
    'alive() { [ -s "$P" ] && read -r pid < "$P" && [ -r "/proc/$pid/stat" ] || return 1',
    '  read -r _ _ st _ < "/proc/$pid/stat"; [ "$st" != Z ]; }',
    'case "$1" in',
    '  is-active) alive; exit $? ;;',
    '  stop) if alive; then kill "$pid"; while alive; do sleep 0.02; done; fi',
    '        rm -f "$P" ;;',
    '  start) alive && exit 0',
    // the minion: takes a moment to exit on SIGTERM, authenticates shortly after starting, stays up
    '    setsid sh -c \'trap "sleep 0.05; exit 0" TERM; sleep 0.1;' +
      ' K="$0/etc/salt/pki/minion/minion_master.pub"; cp "$0/master.pub" "$K.tmp"; mv -f "$K.tmp" "$K";' +
      " while :; do sleep 5 & wait $!; done'" +
      ' "$R" </dev/null >/dev/null 2>&1 &',
    '    echo $! > "$P" ;;',
    '  *) echo "unknown verb $1" >&2; exit 2 ;;',
    'esac',
    '',
  ].join('\n');
}

async function makeHost(dir: string, h: Omit<BenchHost, 'root'>, masterPub: string): Promise<BenchHost> {
  // parallel-ssh runs one command for all hosts: the script finds its router from $SSH_CONNECTION
  const root = join(dir, `${h.host}-${h.port}`);
  await fsp.mkdir(join(root, 'etc/salt/pki/minion'), { recursive: true });
  await fsp.writeFile(join(root, 'etc/salt/pki/minion/minion.pub'), rsaPub());
  await fsp.writeFile(join(root, 'master.pub'), masterPub);
  await fsp.writeFile(join(root, 'minion-service'), serviceScript(root), { mode: 0o755 });
  return { ...h, root };
}

/** Back to the disaster state: the minion up with a stale master key cached, no pin. */
export async function resetHosts(fleet: BenchFleet, stalePub: string): Promise<void> {
  await Promise.all(
    fleet.hosts.map(async (h) => {
      const svc = join(h.root, 'minion-service');
      await new Promise((r) => spawn(svc, ['stop'], { stdio: 'ignore' }).once('exit', r));
      await fsp.rm(join(h.root, 'etc/salt/minion.d'), { recursive: true, force: true });
      await fsp.rm(join(h.root, 'etc/salt/pki/minion/minion_master.pub.ssr-recovery-stale'), { force: true });
      const child = spawn('sleep', ['3600'], { detached: true, stdio: 'ignore' });
      child.unref();
      await fsp.writeFile(join(h.root, 'minion.pid'), `${child.pid}\n`);
      await fsp.writeFile(join(h.root, 'etc/salt/pki/minion/minion_master.pub'), stalePub);
    }),
  );
}

async function startSshd(dir: string, name: string, listen: { host: string; port: number }[]): Promise<ChildProcess> {
  const cfg = join(dir, `${name}.conf`);
  await fsp.writeFile(
    cfg,
    sshdConfigText({
      listen,
      hostKey: join(dir, `${name}_host`),
      pidFile: join(dir, `${name}.pid`),
      authorizedKeys: join(dir, 'authorized_keys'),
      extra: ['LogLevel ERROR', 'MaxStartups 400', 'MaxSessions 64'],
    }),
  );
  return spawnSshd(cfg, { addresses: listen.length, args: ['-o', 'LogLevel=INFO'] });
}

/** OpenSSH's MAX_LISTEN_SOCKS: one sshd listens on at most 16 address:port pairs. */
const MAX_LISTEN = 16;

/** `n` routers on at least `wanted` sshd processes (addresses 127.22.<10+s>.<1+i>). */
export async function startBenchFleet(dir: string, n: number, wanted: number): Promise<BenchFleet> {
  const sshds = Math.max(wanted, Math.ceil(n / MAX_LISTEN));
  const hostsDir = join(dir, 'hosts');
  await fsp.mkdir(hostsDir, { recursive: true });
  keygen(join(dir, 'client'));
  await fsp.writeFile(join(dir, 'authorized_keys'), readFileSync(join(dir, 'client.pub')), { mode: 0o600 });
  const masterPub = rsaPub();
  const hosts: BenchHost[] = [];
  const procs: ChildProcess[] = [];
  const known: string[] = [];
  const stopAll = async (): Promise<void> => {
    for (const h of hosts) spawnSync(join(h.root, 'minion-service'), ['stop']);
    await Promise.all(
      procs.map((p) =>
        p.exitCode === null
          ? new Promise((r) => {
              p.once('exit', r);
              p.kill('SIGTERM');
            })
          : Promise.resolve(),
      ),
    );
  };
  try {
    for (let s = 0; s < sshds; s++) {
      const name = `sshd${s}`;
      keygen(join(dir, `${name}_host`));
      const blob = readFileSync(join(dir, `${name}_host.pub`), 'utf8')
        .trim()
        .split(/\s+/)
        .slice(0, 2)
        .join(' ');
      const listen: { host: string; port: number }[] = [];
      for (let i = s; i < n; i += sshds) {
        const host = `127.22.${10 + s}.${1 + Math.floor(i / sshds)}`;
        listen.push({ host, port: await freePort(host) });
      }
      procs.push(await startSshd(dir, name, listen));
      for (const l of listen) {
        hosts.push(await makeHost(hostsDir, { id: `r${hosts.length + 1}`, ...l }, masterPub));
        known.push(`[${l.host}]:${l.port} ${blob}`);
      }
    }
  } catch (err) {
    await stopAll();
    throw err;
  }
  const knownHostsFile = join(dir, 'known_hosts');
  await fsp.writeFile(knownHostsFile, `${known.join('\n')}\n`);
  const hostListFile = join(dir, 'hosts.txt');
  await fsp.writeFile(hostListFile, `${hosts.map((h) => `root@${h.host}:${h.port}`).join('\n')}\n`);
  return {
    hosts,
    clientKeyFile: join(dir, 'client'),
    knownHostsFile,
    hostListFile,
    hostsDir,
    masterPub,
    stop: stopAll,
  };
}
