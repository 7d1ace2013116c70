// Attacker: root on router-2 owns router-2's minion.pem and can make the master fire any event
// data verbatim (a batched event). It must not be able to enroll an agent key under router-3's id,
// nor replay router-3's own announcement. Only a statement signed with the *accepted* minion key
// of the router it names, issued within the clock window, with a fresh nonce, counts.
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { nullLogger, type Logger } from '../../../../shared/log/logger.js';
import { generateSigningKeyPair, keyFingerprint } from '../../../../shared/protocol/signing-keys.js';
import {
  ENROLL_ALG,
  ENROLL_PURPOSE,
  ENROLL_TAG,
  signEnrollStatement,
  type EnrollStatement,
} from '../../../../shared/protocol/enroll.js';
import { AgentRegistry } from '../../../../conductor-agent/registry/store.js';
import {
  handleEnrollEvent,
  NonceWindow,
  type EnrollListenerOptions,
} from '../../../../conductor-agent/registry/enroll-listener.js';
import { makeTmpDir } from '../../../helpers/tmpdir.js';

const rsa = (): { priv: KeyObject; pubPem: string } => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { priv: privateKey, pubPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
};

describe('conductor-agent/registry/enroll-listener: enrollment bound to the accepted minion key', function () {
  this.timeout(30_000);
  let dir: string;
  let cleanup: () => Promise<void>;
  let registry: AgentRegistry;
  let pkiDir: string;
  let warnings: Record<string, unknown>[];
  let o: EnrollListenerOptions;
  const now = 1_800_000_000_000;
  const m2 = rsa();
  const m3 = rsa();
  const agent2 = generateSigningKeyPair();
  const agent3 = generateSigningKeyPair();
  let n = 0;

  const statement = (router: string, agentPublicKey: string, over: Partial<EnrollStatement> = {}): EnrollStatement => ({
    purpose: ENROLL_PURPOSE,
    router,
    agentPublicKey,
    agentVersion: '0.1.0',
    issuedAt: now,
    nonce: `nonce-${router}-${++n}-padding`,
    ...over,
  });
  /** The event as the master fires it: `id` is whatever the sender (or the batch entry) says. */
  const event = (
    eventId: string | undefined,
    st: EnrollStatement,
    key: KeyObject,
    extra: Record<string, unknown> = {},
  ) => {
    const signed = signEnrollStatement(st, key);
    return {
      tag: ENROLL_TAG,
      data: {
        ...(eventId === undefined ? {} : { id: eventId }),
        cmd: '_minion_event',
        data: {
          agentPublicKey: st.agentPublicKey,
          agentKeyFingerprint: 'x',
          agentVersion: '0.1.0',
          ...signed,
          alg: ENROLL_ALG,
          ...extra,
        },
      },
    };
  };
  const refusal = (r: Awaited<ReturnType<typeof handleEnrollEvent>>): string | undefined =>
    r && 'refused' in r ? r.refused : undefined;

  beforeEach(async () => {
    ({ dir, cleanup } = await makeTmpDir());
    pkiDir = join(dir, 'pki/master');
    await mkdir(join(pkiDir, 'minions'), { recursive: true });
    await mkdir(join(pkiDir, 'minions_pre'), { recursive: true });
    await writeFile(join(pkiDir, 'minions/router-2'), m2.pubPem);
    await writeFile(join(pkiDir, 'minions/router-3'), m3.pubPem);
    registry = await AgentRegistry.open(join(dir, 'state'), { flushDelayMs: 1 });
    warnings = [];
    const logger: Logger = {
      ...nullLogger,
      warn: (msg: string, f?: Record<string, unknown>) => {
        warnings.push({ msg, ...f });
      },
    } as Logger;
    o = { registry, logger, pkiDir, clock: { now: () => now } };
  });
  afterEach(() => cleanup());

  it('accepts a statement signed with the accepted minion key of the router it names', async () => {
    const r = await handleEnrollEvent(event('router-3', statement('router-3', agent3.publicPem), m3.priv), o);
    assert.deepEqual(r, { router: 'router-3', result: 'enrolled' });
    assert.equal(registry.get('router-3')?.fingerprint, keyFingerprint(agent3.publicPem));
  });

  it("forged batched event from router-2 naming router-3 (signed with router-2's minion key) is refused", async () => {
    const r = await handleEnrollEvent(event('router-3', statement('router-3', agent2.publicPem), m2.priv), o);
    assert.equal(refusal(r), 'bad-signature');
    assert.equal(registry.get('router-3'), undefined);
    assert.equal(warnings[0]?.reason, 'bad-signature');
    assert.equal(warnings[0]?.code, 'AGENT_ENROLL_REFUSED');
    assert.equal(warnings[0]?.router, 'router-3');
    assert.ok(!JSON.stringify(warnings).includes('PRIVATE'), 'no key material in the log');
  });

  it('an unsigned announcement (the old format, or a forged batched entry) is refused, whatever id it carries', async () => {
    const r = await handleEnrollEvent(
      { tag: ENROLL_TAG, data: { id: 'router-3', cmd: '_minion_event', data: { agentPublicKey: agent2.publicPem } } },
      o,
    );
    assert.equal(refusal(r), 'unsigned');
    assert.equal(registry.get('router-3'), undefined);
  });

  it('a statement whose router differs from the event id is refused (id-mismatch)', async () => {
    assert.equal(
      refusal(await handleEnrollEvent(event('router-2', statement('router-3', agent3.publicPem), m3.priv), o)),
      'id-mismatch',
    );
  });

  it('a router whose minion key is only pending (minions_pre) or unknown cannot enroll', async () => {
    const m4 = rsa();
    await writeFile(join(pkiDir, 'minions_pre/router-4'), m4.pubPem);
    const r = await handleEnrollEvent(event('router-4', statement('router-4', agent2.publicPem), m4.priv), o);
    assert.equal(refusal(r), 'minion-key-not-accepted');
    assert.match(String(r && 'detail' in r ? r.detail : ''), /pending/);
    assert.equal(
      refusal(await handleEnrollEvent(event('router-5', statement('router-5', agent2.publicPem), m4.priv), o)),
      'minion-key-not-accepted',
    );
  });

  it('router ids that would leave pki/master/minions are refused before any file is read', async () => {
    for (const id of ['../minions_pre/router-4', '..', 'a/b', 'x\ny', '']) {
      assert.equal(
        refusal(await handleEnrollEvent(event(undefined, statement(id, agent2.publicPem), m2.priv), o)),
        'bad-router-id',
        id,
      );
    }
  });

  it('refuses statements outside the clock window, replayed nonces and older statements', async () => {
    assert.equal(
      refusal(
        await handleEnrollEvent(
          event('router-3', statement('router-3', agent3.publicPem, { issuedAt: now - 301_000 }), m3.priv),
          o,
        ),
      ),
      'outside-window',
    );
    assert.equal(
      refusal(
        await handleEnrollEvent(
          event('router-3', statement('router-3', agent3.publicPem, { issuedAt: now + 301_000 }), m3.priv),
          o,
        ),
      ),
      'outside-window',
    );
    const genuine = event('router-3', statement('router-3', agent3.publicPem, { issuedAt: now - 1000 }), m3.priv);
    assert.deepEqual(await handleEnrollEvent(genuine, o), { router: 'router-3', result: 'enrolled' });
    assert.equal(refusal(await handleEnrollEvent(genuine, o)), 'replayed', 'same nonce');
    const older = event('router-3', statement('router-3', agent2.publicPem, { issuedAt: now - 2000 }), m3.priv);
    assert.equal(refusal(await handleEnrollEvent(older, o)), 'replayed', 'older than the last accepted statement');
    assert.equal(registry.get('router-3')?.pending, undefined);
  });

  it('refuses non-canonical encodings and other algorithms', async () => {
    const ev = event('router-3', statement('router-3', agent3.publicPem), m3.priv);
    const d = ev.data.data as Record<string, string>;
    assert.equal(
      refusal(
        await handleEnrollEvent({ ...ev, data: { ...ev.data, data: { ...d, signature: `${d.signature}=` } } }, o),
      ),
      'malformed',
    );
    assert.equal(
      refusal(await handleEnrollEvent({ ...ev, data: { ...ev.data, data: { ...d, alg: 'RS256' } } }, o)),
      'malformed',
    );
    assert.equal(registry.get('router-3'), undefined);
  });

  it('a minion flooding statements for itself cannot lock other routers out (regression: a full nonce cache refused everyone)', async () => {
    const small = { ...o, nonces: new NonceWindow(3) };
    const first = event('router-2', statement('router-2', agent2.publicPem, { issuedAt: now - 100 }), m2.priv);
    assert.deepEqual(await handleEnrollEvent(first, small), { router: 'router-2', result: 'enrolled' });
    for (let i = 1; i <= 10; i++) {
      const r = await handleEnrollEvent(
        event('router-2', statement('router-2', agent2.publicPem, { issuedAt: now - 100 + i }), m2.priv),
        small,
      );
      assert.deepEqual(r, { router: 'router-2', result: 'unchanged' });
    }
    assert.equal(small.nonces.size, 3, 'bounded');
    assert.deepEqual(
      await handleEnrollEvent(event('router-3', statement('router-3', agent3.publicPem), m3.priv), small),
      { router: 'router-3', result: 'enrolled' },
    );
    assert.equal(
      refusal(await handleEnrollEvent(first, small)),
      'replayed',
      'its forgotten nonce is still refused: not newer than the last statement',
    );
  });

  it('a changed agent key under a genuine statement still waits for operator approval', async () => {
    await handleEnrollEvent(
      event('router-3', statement('router-3', agent3.publicPem, { issuedAt: now - 10 }), m3.priv),
      o,
    );
    const r = await handleEnrollEvent(event('router-3', statement('router-3', agent2.publicPem), m3.priv), o);
    assert.deepEqual(r, { router: 'router-3', result: 'pending-approval' });
    assert.equal(registry.get('router-3')?.fingerprint, keyFingerprint(agent3.publicPem));
    await assert.rejects(registry.approve('router-3', ''), /--fingerprint/);
    const approved = await registry.approve('router-3', keyFingerprint(agent2.publicPem).toUpperCase());
    assert.equal(approved.fingerprint, keyFingerprint(agent2.publicPem));
  });
});
