/**
 * A file-level fake Salt minion for unit tests: a ServiceControl whose start() does what a 3006
 * minion does to its files and log (reference/salt.md §4.2, §4.4, §10) against a "current master"
 * key held in memory. The real-process simulator is used by the integration tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { ServiceControl } from '../../../shared/ports/service-control.js';
import { cleanKey, pemFinger } from '../../../shared/salt/fingerprint.js';
import { effectiveValue, minionConfigPaths } from '../../../router-agent/minion/config-files.js';

export function rsaPublicPem(): string {
  return generateKeyPairSync('rsa', {
    modulusLength: 1024,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  }).publicKey;
}

const stamp = (level: string, msg: string): string => {
  const d = new Date();
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())},${p(d.getMilliseconds(), 3)} [salt.crypt        :1316][${level.padEnd(8)}][4242] ${msg}\n`;
};

const standIns = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of standIns) p.kill('SIGKILL');
});
function spawnDaemonStandIn(): ChildProcess {
  const p = spawn('sleep', ['600'], { stdio: 'ignore' });
  p.unref();
  standIns.add(p);
  return p;
}

export class FakeMinion implements ServiceControl {
  readonly name = 'salt-minion';
  active = false;
  calls: string[] = [];
  /** The key the master answers with; undefined = master unreachable. */
  masterPub: string | undefined;
  constructor(
    readonly root: { configDir: string; pkiDir: string; logFile: string },
    masterPub?: string,
  ) {
    this.masterPub = masterPub;
  }

  get keyPath(): string {
    return join(this.root.pkiDir, 'minion_master.pub');
  }

  async log(level: string, msg: string): Promise<void> {
    await fsp.appendFile(this.root.logFile, stamp(level, msg));
  }

  /** Salt's pid file (`pidfile` in the minion config makeRouterTree writes). */
  get pidFile(): string {
    return join(this.root.configDir, '../../var/run/salt-minion.pid');
  }

  /** A real process standing for the daemon, so its pid lives exactly while the fake runs. */
  #proc: ChildProcess | undefined;

  async start(): Promise<void> {
    this.calls.push('start');
    this.active = true;
    await fsp.mkdir(join(this.pidFile, '..'), { recursive: true });
    this.#proc ??= spawnDaemonStandIn();
    await fsp.writeFile(this.pidFile, `${this.#proc.pid}\n`); // as the daemon writes its own at start
    await this.attempt();
  }
  async stop(): Promise<void> {
    this.calls.push('stop');
    this.active = false;
    await fsp.rm(this.pidFile, { force: true });
    this.#exit();
  }
  #exit(): void {
    const p = this.#proc;
    this.#proc = undefined;
    if (p) {
      p.kill('SIGKILL');
      standIns.delete(p);
    }
  }
  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }
  async isActive(): Promise<boolean> {
    return this.active;
  }

  /** salt-call test.ping: answers only when a master holding the cached key answers. */
  async probe(): Promise<{ ok: boolean; detail: string[] }> {
    this.calls.push('probe');
    const cached = await fsp.readFile(this.keyPath, 'utf8').catch(() => undefined);
    const ok = this.masterPub !== undefined && cached !== undefined && cleanKey(cached) === cleanKey(this.masterPub);
    return { ok, detail: ok ? ['local:', '    True'] : ['Unable to sign_in to master: Invalid master key'] };
  }

  /** One sign-in attempt, as the minion makes on start and on retries. */
  async attempt(): Promise<void> {
    if (!this.active || this.masterPub === undefined) return;
    const cached = await fsp.readFile(this.keyPath, 'utf8').catch(() => undefined);
    if (cached !== undefined) {
      if (cleanKey(cached) !== cleanKey(this.masterPub)) {
        await this.log(
          'ERROR',
          "The master key has changed, the salt master could have been subverted, verify salt master's public key",
        );
        await this.log(
          'CRITICAL',
          "The Salt Master server's public key did not authenticate!\nThe master may need to be updated if it is a version of Salt lower than 3007.0, or\nIf you are confident that you are connecting to a valid Salt Master, then remove the master public key and restart the Salt Minion.\nThe master public key can be found at:\n" +
            this.keyPath,
        );
      }
      return;
    }
    await fsp.mkdir(this.root.pkiDir, { recursive: true });
    await fsp.writeFile(this.keyPath, cleanKey(this.masterPub));
    const pin = (await effectiveValue(minionConfigPaths(this.root.configDir), 'master_finger'))?.value;
    const actual = pemFinger(this.masterPub);
    if (pin && pin !== actual) {
      await this.log(
        'CRITICAL',
        `The specified fingerprint in the master configuration file:\n${pin}\nDoes not match the authenticating master's key:\n${actual}\nVerify that the configured fingerprint matches the fingerprint of the correct master and that this minion is not subject to a man-in-the-middle attack.`,
      );
      this.active = false; // exit 42
      this.#exit();
    }
  }
}

/** A router tree under `dir`: minion config, pki with a cached key, empty log. */
export async function makeRouterTree(dir: string, cachedPub: string | undefined, minionId = 'router-1') {
  const configDir = join(dir, 'etc/salt');
  const pkiDir = join(configDir, 'pki/minion');
  const logFile = join(dir, 'var/log/salt/minion');
  await fsp.mkdir(join(configDir, 'minion.d'), { recursive: true });
  await fsp.mkdir(pkiDir, { recursive: true });
  await fsp.mkdir(join(dir, 'var/log/salt'), { recursive: true });
  const pidfile = join(dir, 'var/run/salt-minion.pid');
  await fsp.writeFile(join(configDir, 'minion'), `master: 127.0.0.2\nid: ${minionId}\npidfile: ${pidfile}\n`);
  await fsp.writeFile(join(configDir, 'minion_id'), minionId);
  await fsp.writeFile(logFile, '');
  if (cachedPub) await fsp.writeFile(join(pkiDir, 'minion_master.pub'), cleanKey(cachedPub));
  return { configDir, pkiDir, logFile, stateDir: join(dir, 'var/lib/ssr-recovery-router') };
}
