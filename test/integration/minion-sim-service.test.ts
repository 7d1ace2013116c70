// The command-line fixtures a router agent and the conductor drive: minion-service (start, stop,
// restart, is-active, last exit status), the salt-call stand-in (event.send authenticated like a
// minion) and master-ctl (restart the master through a service command line).
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sinon from 'sinon';
import { pemFinger } from '../../shared/salt/fingerprint.js';
import { splitCommandLine, systemProcessRunner } from '../../shared/ports/process-runner.js';
import { fixtureArgv } from '../../sandbox/salt/entry.js';
import { SaltMasterSim } from '../../sandbox/salt/master.js';
import { startMasterControl } from '../../sandbox/salt/master-control.js';
import { genRsaPair } from '../../sandbox/salt/master-pki.js';
import { minionLastExit, minionPid, minionServiceCommands, stopMinion } from '../../sandbox/salt/minion-service.js';
import { writeSimRouter, type SimRouterPaths } from '../../sandbox/salt/minion-setup.js';
import { makeTmpDir } from '../helpers/tmpdir.js';

const run = (line: string) => systemProcessRunner.run(splitCommandLine(line), { timeoutMs: 30_000 });

describe('integration: minion-service, salt-call and master-ctl fixtures', function () {
  this.timeout(60_000);
  let root: string;
  let cleanup: () => Promise<void>;
  let m: SaltMasterSim;
  let p: SimRouterPaths;
  let svc: ReturnType<typeof minionServiceCommands>;

  before(async () => {
    ({ dir: root, cleanup } = await makeTmpDir());
    m = new SaltMasterSim({ pkiDir: join(root, 'master/pki'), overrides: { auto_accept: true, timeout: 1 } });
    await m.start();
    p = await writeSimRouter({ root: join(root, 'router-1'), id: 'router-1', master: m.address });
    svc = minionServiceCommands(p);
  });
  after(async () => {
    await run(svc.stop);
    await m.stop();
    await cleanup();
  });

  it('start / is-active / stop like systemctl, with the pid file', async () => {
    assert.equal((await run(svc.isActive)).code, 3);
    assert.equal((await run(svc.start)).code, 0);
    await m.waitForMinion('router-1');
    const r = await run(svc.isActive);
    assert.equal(r.code, 0);
    assert.equal(r.stdout.trim(), 'active');
    assert.ok(minionPid(p.stateDir));
    assert.equal((await run(svc.start)).code, 0, 'start is idempotent');
    assert.equal((await run(svc.stop)).code, 0);
    assert.equal(minionPid(p.stateDir), undefined);
    assert.equal(minionLastExit(p.stateDir), 0);
    assert.equal((await run(svc.isActive)).code, 3);
  });

  // Regression (migrate-kill flake): a stop that found the minion alive, then signalled it after
  // another stop (the SSR's restart after migrate conductor) had ended it, died on ESRCH (exit 1,
  // "stop salt-minion failed"); systemctl says a stopped service is stopped.
  // Regression (migrate-kill flake): a stop that found the minion alive, then signalled it after
  // another stop (the SSR's restart after migrate conductor) had ended it, died on ESRCH (exit 1,
  // "stop salt-minion failed"); systemctl says a stopped service is stopped.
  it('a stop whose minion exits between the look-up and the signal succeeds', async () => {
    const stateDir = join(root, 'gone-minion');
    mkdirSync(stateDir, { recursive: true });
    writeFileSync(join(stateDir, 'minion.pid'), '4242\n');
    const kill = sinon.stub(process, 'kill').callsFake((_pid, signal) => {
      if (signal === 0) return true; // alive when looked up
      throw Object.assign(new Error('kill ESRCH'), { code: 'ESRCH', syscall: 'kill' }); // gone when signalled
    });
    try {
      await stopMinion(stateDir);
      assert.ok(kill.calledWith(4242, 'SIGTERM'));
    } finally {
      kill.restore();
    }
  });

  // Regression (drill and migrate-kill flake, "stop salt-minion failed (exit 1)"): the pid file was
  // looked at, then read; the minion removes it as it exits, so stop's wait loop died on ENOENT.
  it('a pid file that cannot be read once it was seen counts as no minion; stop succeeds', async () => {
    const stateDir = join(root, 'unreadable-pid');
    mkdirSync(join(stateDir, 'minion.pid'), { recursive: true }); // exists, but read fails (EISDIR)
    assert.equal(minionPid(stateDir), undefined);
    await stopMinion(stateDir);
  });

  it('records exit 42 after a master_finger mismatch; is-active reports failed', async () => {
    const pinned = await writeSimRouter({
      root: join(root, 'router-2'),
      id: 'router-2',
      master: m.address,
      config: { master_finger: pemFinger(genRsaPair().pub) },
    });
    const s2 = minionServiceCommands(pinned);
    assert.equal((await run(s2.start)).code, 0);
    for (let i = 0; i < 400 && minionLastExit(pinned.stateDir) === undefined; i++)
      await new Promise((r) => setTimeout(r, 25));
    assert.equal(minionLastExit(pinned.stateDir), 42);
    const r = await run(s2.isActive);
    assert.equal(r.code, 3);
    assert.equal(r.stdout.trim(), 'failed');
  });

  it('salt-call event.send: the master re-fires it with the authenticated minion id', async () => {
    const seen = m.bus.waitFor((e) => e.tag === 'ssr-recovery/router-agent/enroll');
    const r = await systemProcessRunner.run(
      fixtureArgv('salt-call', [
        '-c',
        p.configDir,
        'event.send',
        'ssr-recovery/router-agent/enroll',
        '{"agentPublicKey": "abc"}',
      ]),
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'local:\n    True\n');
    const e = await seen;
    assert.equal(e.data.id, 'router-1');
    assert.equal(e.data.cmd, '_minion_event');
    assert.equal((e.data.data as Record<string, unknown>).agentPublicKey, 'abc');
    assert.equal((e.data.data as Record<string, unknown>).__pub_tgt, 'salt-call');
  });

  it('master-ctl restarts the master from a command line; salt-call then fails on the changed key (exit 1)', async () => {
    const ctl = await startMasterControl(m);
    try {
      const before = readFileSync(join(m.pki.dir, 'master.pub'), 'utf8');
      await m.pki.writeKeyPair('master', genRsaPair());
      const r = await systemProcessRunner.run(fixtureArgv('master-ctl', ['restart', '--control', ctl.address]));
      assert.equal(r.code, 0, r.stderr);
      assert.equal(
        (await systemProcessRunner.run(fixtureArgv('master-ctl', ['is-active', '--control', ctl.address]))).code,
        0,
      );
      assert.notEqual(readFileSync(join(m.pki.dir, 'master.pub'), 'utf8'), before);
      const call = await systemProcessRunner.run(
        fixtureArgv('salt-call', ['-c', p.configDir, 'event.send', 'x/y', '{}']),
      );
      assert.equal(call.code, 1);
      assert.match(call.stderr, /The master key has changed/);
      assert.match(readFileSync(p.logFile, 'utf8'), /\[ERROR {3}\]\[\d+\] The master key has changed/);
    } finally {
      await ctl.close();
    }
  });
});
