import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startSsrSimulator, type SimAsset, type SsrSimulator } from '../../sandbox/ssr-simulator/server.js';
import { createHttpSsrConductor } from '../../conductor-agent/ssr/http-conductor.js';
import { emptyAuthority, encodeExport } from '../../sandbox/ssr-simulator/authority.js';
import { runVerify } from '../../conductor-agent/verify/run.js';
import { checkPorts } from '../../conductor-agent/verify/checks.js';
import { systemClock } from '../../shared/ports/clock.js';
import { hasCode } from '../../shared/errors.js';
import { underRoot } from '../../shared/config/schema.js';
import { makeTmpDir } from '../helpers/tmpdir.js';

describe('SSR API client against the SSR simulator, and verify', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let sim: SsrSimulator;
  let assets: SimAsset[];
  let listener: Server;
  let listenPort: number;

  beforeEach(async () => {
    ({ dir, cleanup } = await makeTmpDir());
    await mkdir(join(dir, 'etc/128technology/config-exports'), { recursive: true });
    await writeFile(join(dir, 'etc/128technology/config-exports/router-1.gz'), encodeExport(emptyAuthority('a')));
    await writeFile(
      join(dir, 'etc/128technology/global.init'),
      JSON.stringify({ init: { routerName: 'c', conductor: { 'c-a': { host: '127.0.0.3' } } } }),
    );
    assets = [{ routerName: 'router-1', nodeName: 'node0', assetId: 'router-1', status: 'CONNECTED' }];
    sim = await startSsrSimulator({ root: dir, host: '127.0.0.3', assets: () => assets, users: { admin: 'pw' } });
    listener = createServer((s) => s.destroy());
    await new Promise<void>((r) => listener.listen(0, '127.0.0.3', () => r()));
    listenPort = (listener.address() as { port: number }).port;
  });
  afterEach(async () => {
    await sim.close();
    await new Promise((r) => listener.close(r));
    await cleanup();
  });

  it('logs in, reads system and assets (statuses lower-cased), imports and commits', async () => {
    const ssr = createHttpSsrConductor({ url: sim.url, username: 'admin', password: 'pw' });
    assert.equal((await ssr.system()).router, 'conductor');
    const got = await ssr.assets();
    assert.deepEqual(
      got.map((a) => [a.routerName, a.status]),
      [['router-1', 'connected']],
    );
    await ssr.importConfig('router-1.gz');
    await ssr.commit();
    assert.deepEqual(sim.calls, ['import:router-1.gz', 'commit']);
    await assert.rejects(ssr.importConfig('missing.gz'), (e) => hasCode(e, 'SSR_API_FAILED'));
  });

  it('refuses bad credentials with SSR_API_AUTH', async () => {
    const ssr = createHttpSsrConductor({ url: sim.url, username: 'admin', password: 'wrong' });
    await assert.rejects(ssr.assets(), (e) => hasCode(e, 'SSR_API_AUTH'));
  });

  it('verify passes once routers go Connected → Running, with the ports from global.init', async () => {
    setTimeout(() => {
      assets = [{ ...assets[0]!, status: 'RUNNING' }];
    }, 150);
    const seen: string[] = [];
    const report = await runVerify({
      path: (p) => underRoot(dir, p),
      ports: [listenPort],
      ssr: createHttpSsrConductor({ url: sim.url, username: 'admin', password: 'pw' }),
      timeoutMs: 5000,
      pollMs: 50,
      clock: systemClock,
      onAsset: (a) => seen.push(a.status),
    });
    assert.equal(report.ok, true, JSON.stringify(report.checks));
    assert.deepEqual(
      report.checks.map((c) => [c.name, c.status]),
      [
        ['ports', 'pass'],
        ['routers', 'pass'],
        ['minions', 'skip'],
      ],
    );
    assert.deepEqual(seen, ['connected', 'running']);
  });

  it('verify fails and names the router that never reaches Running', async () => {
    assets = [{ ...assets[0]!, status: 'DISCONNECTED' }];
    const report = await runVerify({
      path: (p) => underRoot(dir, p),
      ports: [listenPort],
      ssr: createHttpSsrConductor({ url: sim.url, username: 'admin', password: 'pw' }),
      timeoutMs: 200,
      pollMs: 50,
      clock: systemClock,
    });
    assert.equal(report.ok, false);
    const routers = report.checks.find((c) => c.name === 'routers')!;
    assert.equal(routers.status, 'fail');
    assert.match(routers.summary, /router-1\/node0 \(disconnected\)/);
  });

  it('reports each closed port', async () => {
    const closed = await new Promise<number>((resolve) => {
      const s = createServer();
      s.listen(0, '127.0.0.3', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const r = await checkPorts(['127.0.0.3'], [listenPort, closed]);
    assert.equal(r.status, 'fail');
    assert.deepEqual(
      (r.details!.ports as Array<{ port: number; open: boolean }>).map((p) => p.open),
      [listenPort, closed].sort((a, b) => a - b).map((p) => p === listenPort),
    );
  });
});
