#!/usr/bin/env node
// `systemctl`-like control of one REAL Salt daemon of a test rig (test/salt/rig.ts), for the router
// agent's `services.minion.*` and the conductor-agent's `services.salt-master.*` command lines:
//   salt-service.mjs start|stop|restart|is-active PIDFILE DAEMON_BIN CONFIG_DIR
// `start` runs `DAEMON_BIN -c CONFIG_DIR -d` and returns once its pid file names a live process;
// `stop` sends SIGTERM and waits until the pid is gone (a real minion takes ~6 s; SIGKILL after
// 30 s); `is-active` exits 0 when running, 3 otherwise, printing active/inactive as systemctl does.
// Only a pid whose command line names CONFIG_DIR is ever signalled.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';

const [verb, pidFile, bin, configDir] = process.argv.slice(2);
if (!verb || !pidFile || !bin || !configDir) {
  process.stderr.write('usage: salt-service.mjs start|stop|restart|is-active PIDFILE DAEMON_BIN CONFIG_DIR\n');
  process.exit(2);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function alive(pid) {
  try {
    return !/^\d+ \(.*\) [ZX]/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}
function pid() {
  if (!existsSync(pidFile)) return undefined;
  const p = Number(readFileSync(pidFile, 'utf8').trim());
  if (!Number.isInteger(p) || p <= 1 || !alive(p)) return undefined;
  let cmd = '';
  try {
    cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return undefined;
  }
  return cmd.includes(configDir) ? p : undefined;
}

async function start() {
  if (pid()) return;
  rmSync(pidFile, { force: true });
  const r = spawnSync(bin, ['-c', configDir, '-d'], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) {
    process.stderr.write(`${bin} -c ${configDir} -d exited ${r.status}: ${r.stderr ?? ''}\n`);
    process.exit(1);
  }
  const end = Date.now() + 60_000;
  while (!pid()) {
    if (Date.now() > end) {
      process.stderr.write(`no live pid in ${pidFile} after 60 s\n`);
      process.exit(1);
    }
    await sleep(100);
  }
}

async function stop() {
  const p = pid();
  if (!p) return;
  process.kill(p, 'SIGTERM');
  const end = Date.now() + 30_000;
  while (alive(p) && Date.now() < end) await sleep(100);
  if (alive(p)) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  while (alive(p)) await sleep(50);
}

switch (verb) {
  case 'start':
    await start();
    break;
  case 'stop':
    await stop();
    break;
  case 'restart':
    await stop();
    await start();
    break;
  case 'is-active': {
    const up = Boolean(pid());
    process.stdout.write(up ? 'active\n' : 'inactive\n');
    process.exit(up ? 0 : 3);
    break;
  }
  default:
    process.stderr.write(`unknown verb ${verb}\n`);
    process.exit(2);
}
