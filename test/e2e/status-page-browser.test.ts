// The status page in a real browser (headless Chromium over the DevTools protocol) while routers are
// re-authenticated: it shows the stale routers, refreshes by itself, and shows them trusted after the
// wave. A screenshot is kept in test-artifacts/ for a person to look at.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createObserveService, type ObserveService } from '../../conductor-agent/observe/server.js';
import { daemonSources } from '../../conductor-agent/observe/sources.js';
import { reauthRouter } from '../../conductor-agent/reauth/single.js';
import { nullLogger } from '../../shared/log/logger.js';
import { pemFinger } from '../../shared/salt/fingerprint.js';
import type { RouterAgent } from '../../router-agent/daemon/agent.js';
import { launchChromium, type Browser } from '../helpers/chromium.js';
import { routerFacts, startConductorSide, startRouter, until, type ConductorSide } from '../helpers/agents.js';
import { makeTmpDir } from '../helpers/tmpdir.js';
import { FakeMinion, makeRouterTree, rsaPublicPem } from '../unit/router-agent/fake-minion.js';

const artifacts = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));

describe('e2e: the status page in headless Chromium during a re-authentication wave', function () {
  this.timeout(90_000);
  const oldMaster = rsaPublicPem();
  const newMaster = rsaPublicPem();
  let dir: string;
  let cleanup: () => Promise<void>;
  let conductor: ConductorSide;
  let observe: ObserveService;
  let browser: Browser | undefined;
  const agents: RouterAgent[] = [];

  before(async () => {
    ({ dir, cleanup } = await makeTmpDir('ssr-page-'));
    conductor = await startConductorSide(dir, { masterFingerprint: async () => pemFinger(newMaster) });
    for (const id of ['router-1', 'router-2', 'router-3']) {
      const tree = await makeRouterTree(join(dir, id), oldMaster, id);
      const minion = new FakeMinion(tree, newMaster);
      minion.active = true;
      await minion.attempt();
      const { loadOrCreateAgentKey } = await import('../../router-agent/agent-key.js');
      await conductor.registry.enroll(id, (await loadOrCreateAgentKey(tree.stateDir)).publicPem, {
        source: 'salt-event',
      });
      agents.push(
        await startRouter(routerFacts(tree, { minionId: id, conductor, service: minion }), {
          probe: () => minion.probe(),
        }),
      );
    }
    await until(
      () => conductor.server.fleet().filter((e) => e.trust === 'stale-master-key').length === 3,
      15_000,
      'three stale routers',
    );
    observe = createObserveService({
      listen: '127.0.0.1:0',
      conductorId: 'sandbox-conductor',
      logger: nullLogger,
      refreshSeconds: 1,
      sources: daemonSources({ fleet: () => conductor.server.fleet(), backupDir: join(dir, 'backups') }),
    });
    await observe.start();
  });
  after(async () => {
    await browser?.close();
    await observe?.stop();
    for (const a of agents) await a.stop();
    await conductor?.server.close();
    await cleanup();
  });

  it('shows the stale routers, refreshes itself, and shows them trusted after the wave', async () => {
    browser = await launchChromium();
    await browser.send('Page.enable');
    const loaded = browser.next('Page.loadEventFired');
    await browser.send('Page.navigate', { url: `${observe.url}/` });
    await loaded;
    const counts = (): Promise<string> =>
      browser!.evaluate<string>("document.querySelector('#trust-counts')?.innerText ?? ''");
    // The first load event may still be about:blank's on a busy machine: wait for the page's own content.
    await until(
      async () => /stale-master-key:\s*3/.test(await counts().catch(() => '')),
      30_000,
      'the page to show three stale routers',
    );
    assert.match(await browser.evaluate<string>('document.title'), /sandbox-conductor/);
    const firstStamp = await browser.evaluate<string>("document.querySelector('#generated')?.textContent ?? ''");

    for (const id of ['router-1', 'router-2', 'router-3']) {
      const r = await reauthRouter({
        server: conductor.server,
        routerId: id,
        fingerprint: pemFinger(newMaster),
        routerTimeoutMs: 10_000,
      });
      assert.equal(r.ok, true, r.outcome.message);
    }
    // No reload from the test: the page's own refresh must bring the new state.
    await until(
      async () => /trusted:\s*3/.test(await counts().catch(() => '')),
      30_000,
      'the page to show three trusted routers',
    );
    assert.notEqual(
      await browser.evaluate<string>("document.querySelector('#generated')?.textContent ?? ''"),
      firstStamp,
    );
    assert.doesNotMatch(await counts(), /stale-master-key/);

    const shot = await browser.send<{ data: string }>('Page.captureScreenshot', { format: 'png' });
    await mkdir(artifacts, { recursive: true });
    const png = Buffer.from(shot.data, 'base64');
    assert.equal(png.subarray(1, 4).toString('latin1'), 'PNG');
    await writeFile(join(artifacts, 'status-page.png'), png);
  });
});
