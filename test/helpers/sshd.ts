/**
 * A real OpenSSH `sshd` on a loopback port for tests: temp host key, a client key pair in
 * authorized_keys, SFTP via internal-sftp, no passwords, no PAM. Needs root (sshd's privilege
 * separation) and Debian's openssh-server (`test/setup/system-packages.mjs` installs it).
 * Always `await sshd.stop()` in an `after` hook.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { makeTmpDir } from './tmpdir.js';

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

async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

function keygen(file: string, type = 'ed25519'): void {
  const r = spawnSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', 'ssr-recovery-test', '-f', file], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`ssh-keygen failed: ${r.stderr}`);
}

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
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 }); // privilege separation folder
  keygen(join(dir, 'host_ed25519'));
  keygen(join(dir, 'client_ed25519'));
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'client_ed25519.pub')), { mode: 0o600 });
  const port = await freePort(host);
  const cfg = join(dir, 'sshd_config');
  writeFileSync(
    cfg,
    [
      `Port ${port}`,
      `ListenAddress ${host}`,
      `HostKey ${join(dir, 'host_ed25519')}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      'PermitRootLogin prohibit-password',
      'UsePAM no',
      'StrictModes no',
      'Subsystem sftp internal-sftp',
      'LogLevel VERBOSE',
      'MaxStartups 100',
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`sshd did not start:\n${log}`)), 10_000);
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      log += d;
      if (log.includes('Server listening on')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`sshd exited with ${code}:\n${log}`));
    });
  });
  child.stderr!.resume();
  return {
    host,
    port,
    username: process.env.USER && process.env.USER !== '' ? process.env.USER : 'root',
    clientKeyFile: join(dir, 'client_ed25519'),
    hostKeyFingerprint: fingerprintOf(join(dir, 'host_ed25519.pub')),
    dir,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      await cleanup();
    },
  };
}
