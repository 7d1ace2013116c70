/**
 * A real OpenSSH `sshd` on a loopback port for the drill's agentless router: a temp host key (its
 * fingerprint is what the drill pins, as an operator's known_hosts would), a client key pair in
 * authorized_keys, no passwords, no PAM. It needs Debian's openssh-server and root (sshd's privilege
 * separation); {@link sshdUnavailable} says why not otherwise, so the drill can skip with the reason.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { blobFingerprint } from '../ssh/known-hosts.js';

const SSHD = '/usr/sbin/sshd';
const KEYGEN = '/usr/bin/ssh-keygen';

export interface DrillSshd {
  host: string;
  port: number;
  user: string;
  clientKeyFile: string;
  /** The host key as a known_hosts line for `[host]:port`. */
  knownHostsLine: string;
  hostKeyFingerprint: string;
  stop(): Promise<void>;
}

/** Why a real sshd cannot run here, or undefined when it can. */
export function sshdUnavailable(): string | undefined {
  if (!existsSync(SSHD)) return `OpenSSH sshd is not installed (${SSHD}; Debian: apt-get install openssh-server)`;
  if (!existsSync(KEYGEN)) return `ssh-keygen is not installed (${KEYGEN})`;
  if (typeof process.getuid === 'function' && process.getuid() !== 0)
    return 'sshd needs root for its privilege separation (run the drill as root to include it)';
  return undefined;
}

function keygen(file: string): void {
  const r = spawnSync(KEYGEN, ['-q', '-t', 'ed25519', '-N', '', '-C', 'ssr-recovery-drill', '-f', file], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`ssh-keygen failed: ${r.stderr}`);
}

/** Start sshd on `host:port` with its files under `dir` (0700); resolves once it listens. */
export async function startDrillSshd(dir: string, host: string, port: number): Promise<DrillSshd> {
  keygen(join(dir, 'host_ed25519'));
  keygen(join(dir, 'client_ed25519'));
  await writeFile(join(dir, 'authorized_keys'), await readFile(join(dir, 'client_ed25519.pub')), { mode: 0o600 });
  const cfg = join(dir, 'sshd_config');
  await writeFile(
    cfg,
    [
      `ListenAddress ${host}:${port}`,
      `HostKey ${join(dir, 'host_ed25519')}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      'UsePAM no',
      'StrictModes no',
      '',
    ].join('\n'),
  );
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 }); // privilege separation folder
  const child = spawn(SSHD, ['-D', '-e', '-f', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`sshd did not start: ${log.slice(-500)}`)), 15_000);
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      log += d;
      if (log.includes('Server listening on')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`sshd exited with ${code}: ${log.slice(-500)}`));
    });
  });
  child.stderr!.removeAllListeners('data');
  child.stderr!.resume();
  const [type, blob] = (await readFile(join(dir, 'host_ed25519.pub'), 'utf8')).trim().split(/\s+/);
  return {
    host,
    port,
    user: 'root',
    clientKeyFile: join(dir, 'client_ed25519'),
    knownHostsLine: `[${host}]:${port} ${type} ${blob}`,
    hostKeyFingerprint: blobFingerprint(blob!),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
