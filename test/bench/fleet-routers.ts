/**
 * One process of the fleet bench's router side: thousands of router agents, each through the real
 * router-agent client and protocol code (ConductorLink: pinned wss, signed hello; the command
 * handler: signature, expiry, replay checks; signed reports), each with a simulated minion that
 * speaks the Salt master simulator's wire protocol (`_auth` with its own key, pending → retry,
 * `master_finger` check of the master's key, `_subscribe`, answers to `test.ping`).
 * Input: a JSON file (argv[2]); prints `ready <n>` when every link's hello was accepted.
 */
import { createPrivateKey, createPublicKey, randomFillSync, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { systemClock } from '../../shared/ports/clock.js';
import { systemRandom } from '../../shared/ports/random.js';
import { nullLogger } from '../../shared/log/logger.js';
import { pemFinger } from '../../shared/salt/fingerprint.js';
import { signEnvelope } from '../../shared/protocol/envelope.js';
import { ReplayCache } from '../../shared/protocol/replay-cache.js';
import { loadPublicKeys } from '../../shared/protocol/signing-keys.js';
import {
  PROTOCOL_VERSION,
  type CommandBody,
  type ReportBody,
  type TrustFacts,
} from '../../shared/protocol/messages.js';
import { ConductorLink } from '../../router-agent/ws/client.js';
import { makeCommandHandler } from '../../router-agent/wire/handler.js';
import { checkMasterProof, memoByText } from '../../sandbox/salt/master-crypto.js';
import { readMessages, sendMessage } from '../../sandbox/salt/wire.js';

interface Input {
  url: string;
  certFingerprint: string;
  conductorPublicPem: string;
  master: { host: string; port: number };
  localAddresses: string[];
  minionPubs: string[];
  routers: { id: string; agentPrivatePem: string; minionKey: number }[];
}

const input = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as Input;
const conductorKeys = loadPublicKeys(input.conductorPublicPem);
const replay = new ReplayCache({ clock: systemClock, maxEntries: 100_000 });
const minionFingers = input.minionPubs.map((p) => pemFinger(p));
const PACE = Number(process.env.FLEET_PACE ?? 100);

/**
 * The master's key as each minion checks it, by the exact text the master sent: its `master_finger`
 * fingerprint and parsed public key. Every reply from one master carries the same text, so it is
 * parsed once per process, not once per minion (parsing cost ~4× the signature check).
 */
const masterKey = memoByText((text): { finger: string; key: KeyObject } | null => {
  try {
    return { finger: pemFinger(text), key: createPublicKey(text) };
  } catch {
    return null; // not a key: no pin can match it
  }
});

/** Auth nonces from a pooled random buffer (one randomFillSync per 512 nonces, not one per auth). */
const noncePool = Buffer.alloc(4096);
let nonceAt = noncePool.length;
function nextNonce(): string {
  if (nonceAt + 8 > noncePool.length) {
    randomFillSync(noncePool);
    nonceAt = 0;
  }
  nonceAt += 8;
  return noncePool.toString('hex', nonceAt - 8, nonceAt);
}
const ACCEPT_WAIT_MS = Number(process.env.FLEET_ACCEPT_WAIT_MS ?? 1000);

/**
 * A minion that trusts one pin; connected while it trusts the master. As Salt's minion it keeps its
 * request channel open and, while its key is pending, asks again every `acceptance_wait_time`
 * (FLEET_ACCEPT_WAIT_MS, default 1 s; Salt's default is 10 s, which a router's minion config can
 * lower). It takes the master only when the key it presents has the pinned fingerprint and the
 * master proved it holds that key's private half (the simulator's stand-in for Salt's token exchange).
 */
class MiniMinion {
  socket: Socket | undefined;
  constructor(
    readonly id: string,
    readonly pub: string,
  ) {}

  /** Sign in pinned to `finger`; resolves true once the master accepted us with that key. */
  async signIn(finger: string, deadline: number): Promise<boolean> {
    this.socket?.destroy();
    while (Date.now() < deadline) {
      const r = await this.#session(finger, deadline);
      if (r === 'ok') return true;
      if (r === 'mismatch') return false;
      await new Promise((res) => setTimeout(res, ACCEPT_WAIT_MS)); // the connection dropped: reconnect
    }
    return false;
  }

  /** One request channel: `_auth`, and again after each `retry`, until accepted, refused or closed. */
  #session(finger: string, deadline: number): Promise<'ok' | 'closed' | 'mismatch'> {
    return new Promise((resolve) => {
      const s = connect(input.master.port, input.master.host);
      let done = false;
      let nonce = '';
      let wait: NodeJS.Timeout | undefined;
      const end = (r: 'ok' | 'closed' | 'mismatch'): void => {
        if (wait) clearTimeout(wait);
        if (!done) {
          done = true;
          if (r !== 'ok') s.destroy();
          resolve(r);
        }
      };
      const auth = (): void => {
        if (Date.now() >= deadline) return end('closed');
        nonce = nextNonce();
        sendMessage(s, {
          cmd: '_auth',
          id: this.id,
          pub: this.pub,
          nonce,
          enc_algo: 'OAEP-SHA1',
          sig_algo: 'PKCS1v15-SHA1',
        });
      };
      s.on('error', () => end('closed'));
      s.on('close', () => {
        end('closed');
        if (this.socket === s) this.socket = undefined;
      });
      s.on('connect', auth);
      readMessages(s, (m) => {
        if (m.cmd === '_auth_reply') {
          if (m.ret !== true) {
            wait = setTimeout(auth, ACCEPT_WAIT_MS); // pending (or refused): acceptance_wait_time
            return;
          }
          const key = masterKey(String(m.pub_key));
          if (key?.finger !== finger) return end('mismatch'); // master_finger: exit 42
          if (!checkMasterProof(key.key, nonce, m.proof)) return end('mismatch');
          this.socket = s;
          sendMessage(s, { cmd: '_subscribe', id: this.id });
          return end('ok');
        }
        if (m.cmd === 'publish' && m.fun === 'test.ping')
          sendMessage(s, {
            cmd: '_return',
            jid: m.jid,
            id: this.id,
            return: true,
            retcode: 0,
            success: true,
            fun_args: [],
          });
      });
    });
  }
}

let ready = 0;
let i = 0;
const links: ConductorLink[] = [];
// Progress for the parent (and why links are not up, when they are not).
setInterval(() => {
  const errors = new Map<string, number>();
  for (const l of links) if (!l.ready && l.lastError) errors.set(l.lastError, (errors.get(l.lastError) ?? 0) + 1);
  process.stdout.write(`ready ${ready} of ${input.routers.length} ${JSON.stringify(Object.fromEntries(errors))}\n`);
}, 2000).unref();
for (const r of input.routers) {
  const privateKey = createPrivateKey(r.agentPrivatePem);
  const publicPem = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
  const minion = new MiniMinion(r.id, input.minionPubs[r.minionKey]!);
  const link = new ConductorLink({
    url: input.url,
    certFingerprints: [input.certFingerprint],
    routerId: r.id,
    agentKey: { privateKey, publicPem },
    agentVersion: 'bench',
    clock: systemClock,
    random: systemRandom,
    logger: nullLogger,
    heartbeatMs: 60_000,
    backoffMinMs: 1_000,
    backoffMaxMs: 20_000,
    localAddress: input.localAddresses[i++ % input.localAddresses.length],
  });
  const trust = (state: TrustFacts['state']): TrustFacts => ({
    state,
    minionId: r.id,
    minionKeyFingerprint: minionFingers[r.minionKey],
    minionActive: state === 'trusted',
    evidence: [],
    since: new Date().toISOString(),
  });
  let state: TrustFacts['state'] = 'stale-master-key';
  const report = (body: ReportBody): void => {
    const envelope = signEnvelope({
      kind: 'report',
      router: r.id,
      body,
      privateKey,
      clock: systemClock,
      random: systemRandom,
      ttlMs: 600_000,
    });
    link.send({ v: PROTOCOL_VERSION, type: 'report', envelope });
  };
  const run = async (body: CommandBody): Promise<void> => {
    if (body.name === 'status') return report({ kind: 'trust', trust: trust(state), commandId: body.id });
    const t0 = Date.now();
    const ok =
      body.name === 'reauth' &&
      body.fingerprint !== undefined &&
      (await minion.signIn(body.fingerprint, t0 + (body.timeoutMs ?? 60_000)));
    state = ok ? 'trusted' : 'finger-mismatch';
    report({
      kind: 'reauth',
      commandId: body.id,
      outcome: {
        ok,
        action: 'reauth',
        fingerprint: body.fingerprint,
        cachedFingerprint: ok ? body.fingerprint : undefined,
        timings: { confirmed: Date.now() - t0 },
        evidence: [],
        trust: state,
        ...(ok ? {} : { code: 'REAUTH_FAILED' }),
      },
    });
  };
  const handle = makeCommandHandler({
    routerId: r.id,
    conductorKeys,
    replay,
    clock: systemClock,
    logger: nullLogger,
    run: (b) => run(b),
  });
  let counted = false;
  link.on('ready', () => {
    report({ kind: 'trust', trust: trust(state) });
    if (!counted) {
      counted = true;
      ready++;
    }
  });
  link.on('command', (frame) => {
    void handle(frame, (a) => {
      link.send(a);
    });
  });
  link.start();
  links.push(link);
  // Connect in steps (~PACE per second per process), as routers come back after an outage.
  if (i % 10 === 0) await new Promise((res) => setTimeout(res, 10_000 / PACE));
}
process.on('message', () => undefined);
process.on('SIGTERM', () => process.exit(0)); // a normal exit (writes --cpu-prof profiles)
