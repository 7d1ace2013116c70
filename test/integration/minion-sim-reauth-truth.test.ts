// The minion simulator reproduces what real Salt 3006.18 did in issue 9 F (reference/salt.md §10):
// a pinned minion with the right key cached facing another master keeps retrying instead of
// exiting 42 (F6); a minion lingers after SIGTERM (F5: ~6 s on real Salt, `sim_stop_delay` here)
// while `stop --no-block` returns at once; Salt's pid file; salt-call test.ping as evidence (F1).
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cleanKey } from '../../shared/salt/fingerprint.js';
import { splitCommandLine, systemProcessRunner } from '../../shared/ports/process-runner.js';
import { SaltMasterSim } from '../../sandbox/salt/master.js';
import { minionLastExit, minionPid, minionServiceCommands } from '../../sandbox/salt/minion-service.js';
import { saltCallCommandLine, writeSimRouter, type SimRouterPaths } from '../../sandbox/salt/minion-setup.js';
import { makeTmpDir } from '../helpers/tmpdir.js';

const run = (line: string, extra: string[] = []) =>
  systemProcessRunner.run([...splitCommandLine(line), ...extra], { timeoutMs: 30_000 });

async function until(pred: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('integration: minion simulator behaves as real Salt did in issue 9 F', function () {
  this.timeout(60_000);
  let root: string;
  let cleanup: () => Promise<void>;
  const stops: Array<() => Promise<unknown>> = [];
  beforeEach(async () => {
    ({ dir: root, cleanup } = await makeTmpDir());
  });
  afterEach(async () => {
    for (const s of stops.splice(0).reverse()) await s();
    await cleanup();
  });

  async function master(dir: string, host = '127.0.0.2'): Promise<SaltMasterSim> {
    const m = new SaltMasterSim({ pkiDir: join(root, dir), host, overrides: { auto_accept: true, timeout: 1 } });
    await m.start();
    stops.push(() => m.stop());
    return m;
  }
  async function service(p: SimRouterPaths, stopNoBlock = false) {
    const svc = minionServiceCommands(p, { stopNoBlock });
    stops.push(() => run(minionServiceCommands(p).stop));
    return svc;
  }

  it('pinned, right key cached, another master answering: keeps retrying with the key-changed lines, no exit 42 (F6)', async () => {
    const right = await master('right/pki');
    const config = { master_finger: await right.pki.finger('master.pub') };
    const p = await writeSimRouter({ root: join(root, 'r1'), id: 'router-1', master: right.address, config });
    const svc = await service(p);
    await run(svc.start);
    await right.waitForMinion('router-1');
    const rightKey = readFileSync(join(p.pkiDir, 'minion_master.pub'), 'utf8');
    await run(svc.stop);
    const rogue = await master('rogue/pki', '127.0.0.9');
    const cfg = join(p.configDir, 'minion');
    await writeFile(
      cfg,
      readFileSync(cfg, 'utf8')
        .replace(/^master: .*$/m, 'master: 127.0.0.9')
        .replace(/^master_port: .*$/m, `master_port: ${rogue.address.port}`),
    );
    await run(svc.start);
    const log = (): string => (existsSync(p.logFile) ? readFileSync(p.logFile, 'utf8') : '');
    const changed = (): number => (log().match(/The master key has changed/g) ?? []).length;
    await until(() => changed() >= 2, 'two retries logging the key change');
    assert.match(log(), /The Salt Master server's public key did not authenticate!/);
    assert.doesNotMatch(log(), /The specified fingerprint in the master configuration file:/);
    assert.notEqual(minionPid(p.stateDir), undefined, 'still running');
    assert.equal(minionLastExit(p.stateDir), undefined, 'no exit 42');
    assert.equal(readFileSync(join(p.pkiDir, 'minion_master.pub'), 'utf8'), rightKey, 'the right key stays cached');
    assert.deepEqual(rogue.connected(), []);
    // salt-call test.ping (the router agent's positive evidence) fails the same way.
    const call = await run(saltCallCommandLine(p), ['test.ping']);
    assert.equal(call.code, 1);
    assert.match(call.stderr, /Invalid master key/);
  });

  it('lingers sim_stop_delay after SIGTERM: stop --no-block returns while the pid lives (F5)', async () => {
    const m = await master('m/pki');
    const p = await writeSimRouter({
      root: join(root, 'r2'),
      id: 'router-2',
      master: m.address,
      config: { sim_stop_delay: 4 },
    });
    const saltPidFile = join(root, 'r2/var/run/salt-minion.pid');
    const svc = await service(p, true);
    await run(svc.start);
    await m.waitForMinion('router-2');
    const pid = minionPid(p.stateDir);
    assert.ok(pid);
    await until(() => existsSync(saltPidFile), "Salt's pid file");
    assert.equal(readFileSync(saltPidFile, 'utf8').trim(), String(pid));
    assert.equal((await run(svc.stop)).code, 0);
    assert.equal(minionPid(p.stateDir), pid, 'the stop returned while the minion still runs');
    await until(() => minionPid(p.stateDir) === undefined, 'the minion to exit');
    assert.equal(minionLastExit(p.stateDir), 0);
    assert.equal(existsSync(saltPidFile), false, 'pid file removed at exit');
  });

  it('salt-call test.ping answers True once the master holds the cached key (F1 evidence)', async () => {
    const m = await master('m3/pki');
    const p = await writeSimRouter({ root: join(root, 'r3'), id: 'router-3', master: m.address });
    const call = await run(saltCallCommandLine(p), ['test.ping']);
    assert.equal(call.code, 0, call.stderr);
    assert.match(call.stdout, /^local:\n {4}True$/m);
    const masterKey = cleanKey(readFileSync(join(m.pki.dir, 'master.pub'), 'utf8'));
    assert.equal(readFileSync(join(p.pkiDir, 'minion_master.pub'), 'utf8'), masterKey);
  });
});
