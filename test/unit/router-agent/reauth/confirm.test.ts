import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { systemClock } from '../../../../shared/ports/clock.js';
import type { ServiceControl } from '../../../../shared/ports/service-control.js';
import { pemFinger } from '../../../../shared/salt/fingerprint.js';
import { confirmAuthenticated } from '../../../../router-agent/reauth/confirm.js';
import { LogTail } from '../../../../router-agent/trust/log-tail.js';
import { makeTmpDir } from '../../../helpers/tmpdir.js';
import { makeRouterTree, rsaPublicPem } from '../fake-minion.js';

const MISMATCH = (pin: string, actual: string): string =>
  `2026-11-24 11:02:22,257 [salt.crypt        :1353][CRITICAL][4242] The specified fingerprint in the master configuration file:\n${pin}\n` +
  `Does not match the authenticating master's key:\n${actual}\nVerify that the configured fingerprint matches the fingerprint of the correct master and that this minion is not subject to a man-in-the-middle attack.\n`;

/** A minion that caches the refused key at once but logs why (and exits 42) only `logDelayMs` later. */
class SlowToLogMinion implements ServiceControl {
  readonly name = 'salt-minion';
  active = false;
  constructor(
    private readonly tree: { pkiDir: string; logFile: string },
    private readonly rogue: string,
    private readonly pin: string,
    private readonly logDelayMs: number,
    private readonly noise = 0,
  ) {}
  async start(): Promise<void> {
    this.active = true;
    await fsp.writeFile(join(this.tree.pkiDir, 'minion_master.pub'), this.rogue);
    setTimeout(() => {
      const filler = Array.from(
        { length: this.noise },
        (_, i) => `2026-11-24 11:02:22,100 [salt.minion       :1000][DEBUG   ][4242] noise ${i}\n`,
      ).join('');
      void fsp.appendFile(this.tree.logFile, filler + MISMATCH(this.pin, pemFinger(this.rogue))).then(() => {
        this.active = false;
      });
    }, this.logDelayMs);
  }
  async stop(): Promise<void> {
    this.active = false;
  }
  async restart(): Promise<void> {
    await this.start();
  }
  async isActive(): Promise<boolean> {
    return this.active;
  }
}

describe('router-agent/reauth/confirm', () => {
  let cleanup: () => Promise<void>;
  let tree: Awaited<ReturnType<typeof makeRouterTree>>;
  const rogue = rsaPublicPem();
  const pin = pemFinger(rsaPublicPem());

  beforeEach(async () => {
    let dir: string;
    ({ dir, cleanup } = await makeTmpDir());
    tree = await makeRouterTree(dir, undefined);
  });
  afterEach(() => cleanup());

  async function confirmWith(minion: SlowToLogMinion) {
    const tail = new LogTail({ path: tree.logFile });
    await tail.start();
    await minion.start();
    return confirmAuthenticated({
      pkiDir: tree.pkiDir,
      service: minion,
      clock: systemClock,
      tail,
      fingerprint: pin,
      timeoutMs: 5_000,
      settleMs: 40,
      pollMs: 10,
      probe: async () => ({ ok: false, detail: ['unexpected'] }),
    });
  }

  // Regression (flaky "rogue master" integration test): the failure was decided from the cached key
  // before the minion had logged the CRITICAL mismatch, and the outcome's evidence came back empty.
  it('keeps tailing the log after deciding wrong-key-cached, so the mismatch line logged later is in the evidence', async () => {
    const r = await confirmWith(new SlowToLogMinion(tree, rogue, pin, 800));
    assert.equal(r.ok, false);
    assert.equal(r.reason, 'wrong-key-cached');
    assert.equal(r.cachedFingerprint, pemFinger(rogue));
    assert.ok(
      r.evidence.some((l) => l.includes('The specified fingerprint in the master configuration file:')),
      r.evidence.join('\n'),
    );
    assert.ok(
      r.evidence.some((l) => l.includes('Does not match the authenticating master')),
      'continuation lines kept',
    );
  });

  it('keeps the most recent lines when the log is noisy before the mismatch', async () => {
    const r = await confirmWith(new SlowToLogMinion(tree, rogue, pin, 50, 200));
    assert.equal(r.ok, false);
    assert.ok(r.evidence.length <= 60);
    assert.ok(
      r.evidence.some((l) => l.includes('The specified fingerprint in the master configuration file:')),
      r.evidence.join('\n'),
    );
  });
});
