// F8 (issue 9): a command's nonce is on disk before the command acts; a lost replay memory fails
// closed; a signature decodes canonically. Real files in a temp folder, real Ed25519 keys.
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { hasCode } from '../../../shared/errors.js';
import { nullLogger } from '../../../shared/log/logger.js';
import { systemRandom } from '../../../shared/ports/random.js';
import { signEnvelope, verifyEnvelope } from '../../../shared/protocol/envelope.js';
import { generateSigningKeyPair } from '../../../shared/protocol/signing-keys.js';
import type { AckFrame, CommandBody, CommandFrame } from '../../../shared/protocol/messages.js';
import { makeCommandHandler } from '../../../router-agent/wire/handler.js';
import { openReplayStore } from '../../../router-agent/wire/replay-store.js';
import { makeTmpDir } from '../../helpers/tmpdir.js';

describe('router-agent replay memory (issue 9 F8)', () => {
  const conductor = generateSigningKeyPair();
  let now = 1_800_000_000_000;
  const clock = { now: () => now, setTimeout, clearTimeout, sleep: async () => undefined } as never;
  let dir: string;
  let cleanup: () => Promise<void>;
  let file: string;
  beforeEach(async () => {
    ({ dir, cleanup } = await makeTmpDir());
    file = join(dir, 'replay-cache.json');
    now = 1_800_000_000_000;
  });
  afterEach(() => cleanup());

  const frame = (id: string, issuedAt = now): CommandFrame => ({
    v: 1,
    type: 'command',
    envelope: signEnvelope({
      kind: 'command',
      router: 'r1',
      body: { id, name: 'status' },
      privateKey: conductor.privateKey,
      clock: { now: () => issuedAt },
      random: systemRandom,
    }),
  });
  async function handler(onRun: (b: CommandBody) => Promise<void> | void) {
    const replay = await openReplayStore({ file, clock, logger: nullLogger });
    const acks: AckFrame[] = [];
    const h = makeCommandHandler({
      routerId: 'r1',
      conductorKeys: [conductor.publicKey],
      replay,
      clock,
      logger: nullLogger,
      run: async (b) => {
        await onRun(b);
      },
    });
    return {
      h,
      acks,
      reply: (a: AckFrame) => {
        acks.push(a);
      },
    };
  }
  const storedNonces = async (): Promise<string[]> =>
    (JSON.parse(await fsp.readFile(file, 'utf8')) as { entries: [string, number][] }).entries.map((e) => e[0]);

  it('nonce not persisted before the command acted: the nonce is in the file when the command runs', async () => {
    const f = frame('c1');
    const nonce = (JSON.parse(Buffer.from(f.envelope.payload, 'base64url').toString()) as { nonce: string }).nonce;
    let seenAtRun: string[] = [];
    const { h, reply, acks } = await handler(async () => {
      seenAtRun = await storedNonces();
    });
    await h(f, reply);
    assert.deepEqual(
      acks.map((a) => a.ok),
      [true],
    );
    assert.ok(seenAtRun.includes(nonce), 'the nonce was on disk before run() started');
    // A restarted agent (new cache from the same file) still refuses the replay.
    const again = await handler(() => assert.fail('a replay must not run'));
    now += 1000;
    await again.h(f, again.reply);
    assert.equal(again.acks[0]?.code, 'PROTOCOL_REPLAYED');
  });

  it('replay memory write failure: the command is refused and does not run', async () => {
    const { h, reply, acks } = await handler(() => assert.fail('must not run when its nonce cannot be stored'));
    await fsp.rm(dir, { recursive: true, force: true }); // the state folder vanished: the write fails
    await h(frame('c2'), reply);
    assert.equal(acks[0]?.ok, false);
    assert.equal(acks[0]?.code, 'FS_WRITE_FAILED');
  });

  const lost = [
    ['missing', undefined],
    ['corrupt', '{"v":1,"entries":[["x"'],
    ['wrong shape', '{"v":1,"entries":{}}'],
  ] as const;
  for (const [what, content] of lost) {
    it(
      `replay memory ${what} at start: commands issued before the start are refused, later ones run, ` +
        'across a second restart',
      async () => {
        if (content !== undefined) await fsp.writeFile(file, content);
        const captured = frame('old', now - 10_000); // issued (and maybe used) while the memory was lost
        const ran: string[] = [];
        const first = await handler((b) => {
          ran.push(b.id);
        });
        await first.h(captured, first.reply);
        now += 5;
        await first.h(frame('new'), first.reply);
        assert.deepEqual(
          first.acks.map((a) => (a.ok ? 'ok' : a.code)),
          ['PROTOCOL_REPLAYED', 'ok'],
        );
        // The cut-off survives a restart that finds the (now valid) file.
        const second = await handler((b) => {
          ran.push(b.id);
        });
        await second.h(captured, second.reply);
        assert.equal(second.acks[0]?.code, 'PROTOCOL_REPLAYED');
        assert.deepEqual(ran, ['new']);
      },
    );
  }

  it('a valid memory from the earlier run accepts commands issued before this start', async () => {
    await (await openReplayStore({ file, clock, logger: nullLogger })).flush();
    now += 60_000;
    const f = frame('c3', now - 30_000);
    const ran: string[] = [];
    const { h, reply } = await handler((b) => {
      ran.push(b.id);
    });
    await h(f, reply);
    assert.deepEqual(ran, ['c3']);
  });

  it('non-canonical base64url signature: PROTOCOL_BAD_SIGNATURE though it decodes to the right bytes', () => {
    const env = frame('c4').envelope;
    const opts = { kind: 'command' as const, publicKeys: [conductor.publicKey], router: 'r1', clock };
    verifyEnvelope(env, opts); // the canonical form verifies
    const last = env.sig.at(-1)!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    // 64 bytes = 86 characters; the last carries 4 unused bits: set one, same bytes decode.
    const twin = alphabet[alphabet.indexOf(last) | 1]!;
    assert.notEqual(twin, last, 'a canonical last character has its unused bits clear');
    const variants = [env.sig.slice(0, -1) + twin, `${env.sig}==`, `${env.sig.slice(0, 10)}.${env.sig.slice(10)}`];
    for (const sig of variants) {
      const same = Buffer.from(env.sig, 'base64url');
      assert.deepEqual(Buffer.from(sig, 'base64url'), same, `${sig} decodes leniently to the same bytes`);
      const refused = (e: unknown) => hasCode(e, 'PROTOCOL_BAD_SIGNATURE') || hasCode(e, 'PROTOCOL_MALFORMED');
      assert.throws(() => verifyEnvelope({ ...env, sig }, opts), refused, sig);
    }
    const twinSig = env.sig.slice(0, -1) + twin;
    assert.throws(
      () => verifyEnvelope({ ...env, sig: twinSig }, opts),
      (e) => hasCode(e, 'PROTOCOL_BAD_SIGNATURE'),
    );
  });
});
