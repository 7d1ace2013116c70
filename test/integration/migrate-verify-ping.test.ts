// Verify's test.ping goes through the NEW conductor's salt-api (the salt-api emulator in front of the
// new conductor's Salt master simulator): a router that is Running on the new conductor but whose
// minion does not answer is reported failed (MIGRATE_NOT_CONFIRMED), never counted as migrated; and
// `verify --conductor` names it too.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { main } from '../../conductor-agent/cli/main.js';
import type { MigrateReport } from '../../conductor-agent/migrate/types.js';
import { startConductorPair, type ConductorPair } from '../../sandbox/ssr-simulator/pair.js';
import { startSaltSandbox, type SaltSandbox } from '../../sandbox/saltapi-emulator/sandbox.js';
import { writeSimRouter } from '../../sandbox/salt/minion-setup.js';
import { minionServiceCommands } from '../../sandbox/salt/minion-service.js';
import { commandServiceControl, type ServiceControl } from '../../shared/ports/service-control.js';
import { memoryIo } from '../helpers/cli.js';

const OLD = '127.23.1.2';
const NEW = '127.23.1.3';

describe('integration: migrate verify pings through the new salt-api', function () {
  this.timeout(180_000);
  let pair: ConductorPair;
  let salt: SaltSandbox;
  const services: ServiceControl[] = [];

  before(async () => {
    pair = await startConductorPair({
      routers: 3,
      addresses: { old: OLD, new: NEW, new2: '127.23.1.4' },
      delays: { pendingMs: 50, connectedMs: 50 },
    });
    salt = await startSaltSandbox({ root: pair.newRoot, host: NEW });
    // r0001 and r0002 have a real (simulated) salt-minion following the new master; r0003 has none.
    for (const id of ['r0001', 'r0002']) {
      const paths = await writeSimRouter({ root: join(pair.dir, 'routers', id), id, master: salt.master.address });
      const svc = commandServiceControl({
        name: 'salt-minion',
        unit: 'salt-minion',
        commands: minionServiceCommands(paths),
      });
      services.push(svc);
      await svc.start();
      await salt.master.waitForMinion(id).catch(() => undefined);
      const pub = await readFile(join(paths.pkiDir, 'minion.pub'), 'utf8');
      // the key the old master accepted for this router is its real minion's key
      await writeFile(join(pair.oldRoot, 'etc/128technology/salt/pki/master/minions', id), pub);
      pair.world.routers.get(id)!.nodes[0]!.minionPub = pub;
    }
    const cfg = parse(await readFile(pair.configFile, 'utf8')) as Record<string, Record<string, unknown>>;
    await writeFile(join(pair.oldRoot, 'etc/ssr-recovery/salt-api.secret'), `${salt.secret}\n`, { mode: 0o600 });
    cfg.saltApi = {
      url: salt.url,
      username: salt.username,
      passwordFile: '/etc/ssr-recovery/salt-api.secret',
      eauth: 'sharedsecret',
    };
    (cfg.migrate!.to as Record<string, unknown>).saltApiUrl = salt.url;
    cfg.migrate!.pingTimeoutSeconds = 4;
    await writeFile(pair.configFile, stringify(cfg), { mode: 0o600 });
  });
  after(async () => {
    for (const s of services) await s.stop().catch(() => undefined);
    await salt?.close();
    await pair?.close();
  });

  it('a Running router whose minion is silent on the new salt-api is failed with evidence, not migrated', async () => {
    const io = memoryIo({});
    const code = await main(['--root', pair.oldRoot, '--json', 'migrate', '--to', NEW], io);
    const report = JSON.parse(io.out()) as MigrateReport;
    assert.equal(code, 5, io.err().slice(-2000));
    assert.equal(report.trust?.mode, 'same-key');
    const by = new Map(report.routers.map((r) => [r.router, r]));
    assert.equal(by.get('r0001')?.outcome, 'migrated', JSON.stringify(by.get('r0001')));
    assert.equal(by.get('r0002')?.outcome, 'migrated');
    assert.equal(by.get('r0003')?.outcome, 'failed');
    assert.equal(by.get('r0003')?.error?.code, 'MIGRATE_NOT_CONFIRMED');
    assert.deepEqual((by.get('r0003')?.error?.evidence as { minions?: string[] } | undefined)?.minions, ['r0003']);
    assert.deepEqual(report.totals, { routers: 3, migrated: 2, skipped: 0, failed: 1, rolledBack: 0 });
    const minions = report.verify?.find((c) => c.name === 'minions');
    assert.equal(minions?.status, 'fail');
    assert.deepEqual((minions?.details as { silent?: string[] } | undefined)?.silent, ['r0003']);
    assert.equal(report.ok, false);
  });

  it('verify --conductor pings every router node the new conductor lists, and names the silent one', async () => {
    const io = memoryIo({});
    const code = await main(['--root', pair.oldRoot, '--json', 'verify', '--conductor', NEW, '--timeout', '5'], io);
    assert.equal(code, 7, io.err().slice(-2000));
    const report = JSON.parse(io.out()) as { checks: { name: string; status: string; summary: string }[] };
    const minions = report.checks.find((c) => c.name === 'minions')!;
    assert.equal(minions.status, 'fail');
    assert.match(minions.summary, /not answering: r0003$/);
  });
});
