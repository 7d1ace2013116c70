/**
 * A real OpenSSH `sshd` on a loopback port for the drill's agentless router: a temp host key (its
 * fingerprint is what the drill pins, as an operator's known_hosts would), a client key pair in
 * authorized_keys, no passwords, no PAM. It needs Debian's openssh-server and root (sshd's privilege
 * separation); {@link sshdUnavailable} says why not otherwise, so the drill can skip with the reason.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SSH_KEYGEN as KEYGEN, SSHD, spawnSshd, sshdConfigText, sshKeygen, stopSshd } from '../../sandbox/sshd.js';
import { blobFingerprint } from '../ssh/known-hosts.js';

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

/** Start sshd on `host:port` with its files under `dir` (0700); resolves once it listens. */
export async function startDrillSshd(dir: string, host: string, port: number): Promise<DrillSshd> {
  sshKeygen(join(dir, 'host_ed25519'), 'ssr-recovery-drill');
  sshKeygen(join(dir, 'client_ed25519'), 'ssr-recovery-drill');
  await writeFile(join(dir, 'authorized_keys'), await readFile(join(dir, 'client_ed25519.pub')), { mode: 0o600 });
  const cfg = join(dir, 'sshd_config');
  await writeFile(
    cfg,
    sshdConfigText({
      listen: [{ host, port }],
      hostKey: join(dir, 'host_ed25519'),
      pidFile: join(dir, 'sshd.pid'),
      authorizedKeys: join(dir, 'authorized_keys'),
    }),
  );
  const child = await spawnSshd(cfg);
  const [type, blob] = (await readFile(join(dir, 'host_ed25519.pub'), 'utf8')).trim().split(/\s+/);
  return {
    host,
    port,
    user: 'root',
    clientKeyFile: join(dir, 'client_ed25519'),
    knownHostsLine: `[${host}]:${port} ${type} ${blob}`,
    hostKeyFingerprint: blobFingerprint(blob!),
    stop: () => stopSshd(child),
  };
}
