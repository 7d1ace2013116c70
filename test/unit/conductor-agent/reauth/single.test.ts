import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hasCode } from '../../../../shared/errors.js';
import { pemFinger } from '../../../../shared/salt/fingerprint.js';
import type { CommandBody, ReportBody } from '../../../../shared/protocol/messages.js';
import { briefResult, reauthRouter } from '../../../../conductor-agent/reauth/single.js';
import type { VerifiedReport } from '../../../../conductor-agent/ws/command-sender.js';
import { makeTmpDir } from '../../../helpers/tmpdir.js';
import { rsaPublicPem } from '../../router-agent/fake-minion.js';

describe('conductor-agent/reauth/single', () => {
  const master = rsaPublicPem();
  const fp = pemFinger(master);
  const server = (body: (cmd: Omit<CommandBody, 'id'>) => ReportBody) => {
    const sent: Omit<CommandBody, 'id'>[] = [];
    return {
      sent,
      sendCommand: async (routerId: string, cmd: Omit<CommandBody, 'id'>): Promise<VerifiedReport> => {
        sent.push(cmd);
        return {
          routerId,
          body: body(cmd),
          payload: {} as never,
          envelope: { payload: 'p', sig: 's' },
          verifiedWith: 'aa',
        };
      },
    };
  };
  const outcome = (o: Partial<{ ok: boolean; fingerprint: string; cachedFingerprint: string }>): ReportBody => ({
    kind: 'reauth',
    commandId: 'c',
    outcome: { ok: true, action: 'reauth', timings: {}, evidence: [], ...o },
  });

  it('pins the fingerprint of master.pub as Salt computes it, and accepts a matching signed report', async () => {
    const { dir, cleanup } = await makeTmpDir();
    try {
      await writeFile(join(dir, 'master.pub'), master);
      const s = server(() => outcome({ fingerprint: fp, cachedFingerprint: fp }));
      const r = await reauthRouter({ server: s, routerId: 'r1', masterPubPath: join(dir, 'master.pub') });
      assert.equal(r.ok, true);
      assert.equal(s.sent[0]?.fingerprint, fp);
      assert.equal(s.sent[0]?.name, 'reauth');
    } finally {
      await cleanup();
    }
  });

  it("brief (the wave's request): the outcome and the verifying key's fingerprint, without the signed report", async () => {
    const r = await reauthRouter({
      server: server(() => outcome({ fingerprint: fp, cachedFingerprint: fp })),
      routerId: 'r1',
      fingerprint: fp,
    });
    const brief = briefResult(r);
    assert.equal('report' in brief, false);
    assert.deepEqual(brief, {
      routerId: 'r1',
      action: 'reauth',
      ok: true,
      fingerprint: fp,
      outcome: r.outcome,
      verifiedWith: 'aa',
    });
  });

  it('does not take "ok" for an answer when the report shows another key cached', async () => {
    const r = await reauthRouter({
      server: server(() => outcome({ fingerprint: fp, cachedFingerprint: pemFinger(rsaPublicPem()) })),
      routerId: 'r1',
      fingerprint: fp,
    });
    assert.equal(r.ok, false);
    assert.equal(r.outcome.code, 'REAUTH_FAILED');
  });

  it('refuses a report of the wrong kind, and a call without a fingerprint source', async () => {
    await assert.rejects(
      reauthRouter({ server: server(() => ({ kind: 'trust', trust: {} as never })), routerId: 'r1', fingerprint: fp }),
      (e) => hasCode(e, 'PROTOCOL_MALFORMED'),
    );
    await assert.rejects(reauthRouter({ server: server(() => outcome({})), routerId: 'r1' }), (e) =>
      hasCode(e, 'USAGE'),
    );
  });
});
