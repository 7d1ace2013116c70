/**
 * A real OpenSSH `sshd` on a loopback port for tests: temp host key, a client key pair in
 * authorized_keys, SFTP via internal-sftp, no passwords, no PAM. Needs root (sshd's privilege
 * separation) and Debian's openssh-server (`test/setup/system-packages.mjs` installs it).
 * Always `await sshd.stop()` in an `after` hook.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSshd, sshdConfigText, sshKeygen, stopSshd } from '../../sandbox/sshd.js';
import { makeTmpDir } from './tmpdir.js';
import { freePort } from '../../shared/net/free-port.js';

export interface Sshd {
  host: string;
  port: number;
  /** Login name (the user running the tests: root). */
  username: string;
  /** Client private key file (OpenSSH format) accepted by this server. */
  clientKeyFile: string;
  /** `SHA256:…` of the server's host key, as `ssh-keygen -lf` prints it. */
  hostKeyFingerprint: string;
  /** A scratch folder the tests may use (also the server's temp folder). */
  dir: string;
  stop(): Promise<void>;
}

const keygen = (file: string): void => sshKeygen(file, 'ssr-recovery-test');

/** `SHA256:…` fingerprint of a public key file, from ssh-keygen itself. */
export function fingerprintOf(pubFile: string): string {
  const r = spawnSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', pubFile], { encoding: 'utf8' });
  const m = /SHA256:[A-Za-z0-9+/]+/.exec(r.stdout);
  if (!m) throw new Error(`ssh-keygen -lf failed: ${r.stderr}`);
  return m[0];
}

/** Start sshd on `host` (default 127.0.0.1) and resolve once it listens. */
export async function startSshd(options: { host?: string } = {}): Promise<Sshd> {
  const host = options.host ?? '127.0.0.1';
  const { dir, cleanup } = await makeTmpDir('ssr-sshd-');
  chmodSync(dir, 0o700);
  keygen(join(dir, 'host_ed25519'));
  keygen(join(dir, 'client_ed25519'));
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'client_ed25519.pub')), { mode: 0o600 });
  const port = await freePort(host);
  const cfg = join(dir, 'sshd_config');
  writeFileSync(
    cfg,
    sshdConfigText({
      listen: [{ host, port }],
      hostKey: join(dir, 'host_ed25519'),
      pidFile: join(dir, 'sshd.pid'),
      authorizedKeys: join(dir, 'authorized_keys'),
      extra: ['Subsystem sftp internal-sftp', 'LogLevel VERBOSE', 'MaxStartups 100'],
    }),
  );
  const child = await spawnSshd(cfg, { timeoutMs: 10_000 });
  return {
    host,
    port,
    username: process.env.USER && process.env.USER !== '' ? process.env.USER : 'root',
    clientKeyFile: join(dir, 'client_ed25519'),
    hostKeyFingerprint: fingerprintOf(join(dir, 'host_ed25519.pub')),
    dir,
    async stop() {
      await stopSshd(child);
      await cleanup();
    },
  };
}
