import assert from 'node:assert/strict';
import { nullLogger } from '../../../shared/log/logger.js';
import { systemRandom } from '../../../shared/ports/random.js';
import { DEFAULT_MAX_SKEW_MS, signEnvelope } from '../../../shared/protocol/envelope.js';
import { generateSigningKeyPair } from '../../../shared/protocol/signing-keys.js';
import { ReplayCache } from '../../../shared/protocol/replay-cache.js';
import type { AckFrame, CommandBody, CommandFrame } from '../../../shared/protocol/messages.js';
import { makeCommandHandler } from '../../../router-agent/wire/handler.js';

describe('router-agent/wire/handler: every refusal acked with its code, nothing run', () => {
  const conductor = generateSigningKeyPair();
  let now = 1_800_000_000_000;
  const clock = { now: () => now, setTimeout, clearTimeout, sleep: async () => undefined } as never;
  const frame = (
    o: { router?: string; body?: unknown; key?: ReturnType<typeof generateSigningKeyPair>; ttlMs?: number } = {},
  ): CommandFrame => ({
    v: 1,
    type: 'command',
    envelope: signEnvelope({
      kind: 'command',
      router: o.router ?? 'router-7',
      body: o.body ?? { id: 'c1', name: 'status' },
      privateKey: (o.key ?? conductor).privateKey,
      clock,
      random: systemRandom,
      ttlMs: o.ttlMs,
    }),
  });

  it('runs a valid command once, refuses its replay, a re-targeted copy, a forged one, an expired one, a malformed body', async () => {
    const ran: CommandBody[] = [];
    const acks: AckFrame[] = [];
    const h = makeCommandHandler({
      routerId: 'router-7',
      conductorKeys: [conductor.publicKey],
      replay: new ReplayCache({ clock }),
      clock,
      logger: nullLogger,
      run: async (b) => {
        ran.push(b);
      },
    });
    const reply = (a: AckFrame) => acks.push(a);
    const ok = frame();
    await h(ok, reply);
    await h(ok, reply);
    await h(frame({ router: 'router-8' }), reply);
    await h(frame({ key: generateSigningKeyPair() }), reply);
    const old = frame({ ttlMs: 1000 });
    now += 1000 + DEFAULT_MAX_SKEW_MS;
    await h(old, reply);
    await h(frame({ body: { id: 'c9', name: 'format-disk' } }), reply);
    await h(frame({ body: { id: 'c10', name: 'reauth', timeoutMs: -1 } }), reply);
    assert.deepEqual(
      acks.map((a) => (a.ok ? 'ok' : a.code)),
      [
        'ok',
        'PROTOCOL_REPLAYED',
        'PROTOCOL_WRONG_ROUTER',
        'PROTOCOL_BAD_SIGNATURE',
        'PROTOCOL_EXPIRED',
        'PROTOCOL_MALFORMED',
        'PROTOCOL_MALFORMED',
      ],
    );
    assert.equal(acks[2]?.id, 'c1', 'a refusal names the command it refused');
    assert.deepEqual(
      ran.map((b) => b.id),
      ['c1'],
    );
  });
});
