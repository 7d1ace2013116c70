/**
 * A real OpenSSH `sshd` on loopback, as the drill's agentless router, the tests and the SSH bench
 * run it: ed25519 keys made by ssh-keygen, a config with keys only (no passwords, no PAM), and a
 * start that resolves once sshd says it listens on every address. One place, so the three cannot
 * drift apart in what a "real sshd on loopback" is.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';

export const SSHD = '/usr/sbin/sshd';
export const SSH_KEYGEN = '/usr/bin/ssh-keygen';

/** Make an unencrypted key pair at `file` / `file.pub` (ed25519 unless told). */
export function sshKeygen(file: string, comment: string, type = 'ed25519'): void {
  const r = spawnSync(SSH_KEYGEN, ['-q', '-t', type, '-N', '', '-C', comment, '-f', file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ssh-keygen failed: ${r.stderr}`);
}

export interface SshdConfig {
  listen: readonly { host: string; port: number }[];
  hostKey: string;
  pidFile: string;
  authorizedKeys: string;
  /** More sshd_config lines (Subsystem, LogLevel, MaxStartups…). */
  extra?: readonly string[];
}

/** sshd_config text: the listed addresses, one host key, public keys only. */
export function sshdConfigText(c: SshdConfig): string {
  return [
    ...c.listen.map((l) => `ListenAddress ${l.host}:${l.port}`),
    `HostKey ${c.hostKey}`,
    `PidFile ${c.pidFile}`,
    `AuthorizedKeysFile ${c.authorizedKeys}`,
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PermitRootLogin prohibit-password',
    'UsePAM no',
    'StrictModes no',
    ...(c.extra ?? []),
    '',
  ].join('\n');
}

/** Run `sshd -D -e -f cfg`; resolves once it listens on `addresses` addresses, with its log so far. */
export function spawnSshd(
  cfgFile: string,
  o: { addresses?: number; timeoutMs?: number; args?: readonly string[] } = {},
): Promise<ChildProcess> {
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 }); // privilege separation folder
  const want = o.addresses ?? 1;
  const child = spawn(SSHD, ['-D', '-e', ...(o.args ?? []), '-f', cfgFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  return new Promise<ChildProcess>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`sshd did not start:\n${log.slice(-2000)}`)),
      o.timeoutMs ?? 15_000,
    );
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      log += d;
      if ((log.match(/Server listening on/g) ?? []).length >= want) {
        clearTimeout(timer);
        child.stderr!.removeAllListeners('data');
        child.stderr!.resume();
        resolve(child);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`sshd exited with ${code}:\n${log.slice(-2000)}`));
    });
  });
}

/** SIGTERM an sshd started by {@link spawnSshd} and wait until it is gone. */
export async function stopSshd(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}
