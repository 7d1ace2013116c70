/**
 * Ed25519-signed envelopes (DESIGN.md trust model, rules 2 and 3). The signature covers the exact
 * payload bytes (base64url JSON), prefixed with a domain tag, so nothing depends on canonical JSON.
 * Verification order: shape → signature → kind → router → time → replay; each failure has its own
 * stable code (PROTOCOL_MALFORMED, PROTOCOL_BAD_SIGNATURE, PROTOCOL_WRONG_ROUTER, PROTOCOL_EXPIRED,
 * PROTOCOL_REPLAYED) and the replay cache only remembers nonces of envelopes that verified.
 */
import { sign, verify, type KeyObject } from 'node:crypto';
import { ProtocolError } from '../errors.js';
import type { Clock } from '../ports/clock.js';
import type { Random } from '../ports/random.js';
import { isEnvelope } from './codec.js';
import type { EnvelopeKind, EnvelopePayload, SignedEnvelope } from './messages.js';
import type { ReplayCache } from './replay-cache.js';

const DOMAIN = Buffer.from('ssr-recovery/envelope/v1\n');

/** Default lifetime of a command envelope. */
export const DEFAULT_ENVELOPE_TTL_MS = 120_000;
/** Longest lifetime a verifier accepts (an envelope valid for days is a standing replay risk). */
export const MAX_ENVELOPE_TTL_MS = 15 * 60_000;
/**
 * Clock difference tolerated between conductor and router. Generous on purpose: a router that lost
 * NTP during the outage must still be reachable; replays stay refused because nonces are remembered
 * (persistently on routers) until expiry plus this allowance.
 */
export const DEFAULT_MAX_SKEW_MS = 5 * 60_000;

export interface SignOptions<B> {
  kind: EnvelopeKind;
  router: string;
  body: B;
  privateKey: KeyObject;
  clock: Pick<Clock, 'now'>;
  random: Pick<Random, 'id'>;
  ttlMs?: number;
}

const signedBytes = (payload: string): Buffer => Buffer.concat([DOMAIN, Buffer.from(payload, 'ascii')]);

/** Build and sign an envelope. */
export function signEnvelope<B>(options: SignOptions<B>): SignedEnvelope {
  const issuedAt = options.clock.now();
  const payload: EnvelopePayload<B> = {
    kind: options.kind,
    router: options.router,
    nonce: options.random.id(18),
    issuedAt,
    expiresAt: issuedAt + (options.ttlMs ?? DEFAULT_ENVELOPE_TTL_MS),
    body: options.body,
  };
  const text = Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url');
  return { payload: text, sig: sign(null, signedBytes(text), options.privateKey).toString('base64url') };
}

export interface VerifyOptions {
  kind: EnvelopeKind;
  /** Keys allowed to sign (an HA conductor pair may have two). */
  publicKeys: readonly KeyObject[];
  /** The router this verifier is (commands) or expects (reports); undefined = any (hello, read router from payload). */
  router?: string | undefined;
  clock: Pick<Clock, 'now'>;
  /** Omit only where another mechanism stops replays (the hello challenge). */
  replay?: ReplayCache | undefined;
  maxSkewMs?: number;
}

/** Read the payload without verifying anything (only to name a rejected command in an ack). */
export function peekPayload(envelope: unknown): Partial<EnvelopePayload> | undefined {
  if (!isEnvelope(envelope)) return undefined;
  try {
    const v = JSON.parse(Buffer.from(envelope.payload, 'base64url').toString('utf8')) as unknown;
    return typeof v === 'object' && v !== null ? (v as Partial<EnvelopePayload>) : undefined;
  } catch {
    return undefined;
  }
}

function checkPayloadShape(p: Partial<EnvelopePayload> | undefined): asserts p is EnvelopePayload {
  const ok =
    p !== undefined &&
    typeof p.kind === 'string' &&
    typeof p.router === 'string' &&
    p.router.length > 0 &&
    typeof p.nonce === 'string' &&
    p.nonce.length >= 8 &&
    Number.isFinite(p.issuedAt) &&
    Number.isFinite(p.expiresAt) &&
    typeof p.body === 'object' &&
    p.body !== null;
  if (!ok) throw new ProtocolError('PROTOCOL_MALFORMED', 'signed envelope payload is incomplete');
}

/**
 * Decode base64url strictly: Node's decoder skips characters outside the alphabet, accepts `=`
 * padding and ignores non-zero trailing bits, so many texts decode to the same bytes. Only the one
 * text that re-encodes to itself is accepted (an Ed25519 signature is exactly 86 characters).
 */
export function decodeCanonicalBase64url(text: string): Buffer | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? bytes : undefined;
}

/** Verify an envelope and return its payload, or throw a ProtocolError naming why it was refused. */
export function verifyEnvelope<B = unknown>(envelope: unknown, options: VerifyOptions): EnvelopePayload<B> {
  if (!isEnvelope(envelope)) throw new ProtocolError('PROTOCOL_MALFORMED', 'not a signed envelope');
  const sig = decodeCanonicalBase64url(envelope.sig);
  if (sig?.length !== 64 || !decodeCanonicalBase64url(envelope.payload)) {
    throw new ProtocolError(
      'PROTOCOL_BAD_SIGNATURE',
      `${options.kind} envelope signature or payload is not canonical base64url`,
    );
  }
  const data = signedBytes(envelope.payload);
  if (!options.publicKeys.some((k) => safeVerify(data, k, sig))) {
    throw new ProtocolError('PROTOCOL_BAD_SIGNATURE', `${options.kind} envelope is not signed by a pinned key`, {
      hint:
        options.kind === 'command'
          ? 'Check conductor.agentPublicKey on the router matches the conductor-agent key (conductor-agent keys status).'
          : undefined,
    });
  }
  const payload = peekPayload(envelope);
  checkPayloadShape(payload);
  if (payload.kind !== options.kind)
    throw new ProtocolError('PROTOCOL_MALFORMED', `expected a ${options.kind} envelope, got ${payload.kind}`);
  if (options.router !== undefined && payload.router !== options.router) {
    throw new ProtocolError(
      'PROTOCOL_WRONG_ROUTER',
      `envelope names router ${payload.router}, this is ${options.router}`,
      {
        details: { named: payload.router, self: options.router },
      },
    );
  }
  const now = options.clock.now();
  const skew = options.maxSkewMs ?? DEFAULT_MAX_SKEW_MS;
  if (payload.expiresAt <= payload.issuedAt || payload.expiresAt - payload.issuedAt > MAX_ENVELOPE_TTL_MS) {
    throw new ProtocolError('PROTOCOL_EXPIRED', 'envelope lifetime is empty or longer than allowed', {
      details: { issuedAt: payload.issuedAt, expiresAt: payload.expiresAt },
    });
  }
  if (now + skew < payload.issuedAt || now - skew >= payload.expiresAt) {
    throw new ProtocolError(
      'PROTOCOL_EXPIRED',
      now < payload.issuedAt ? 'envelope is not valid yet (clock skew?)' : 'envelope has expired',
      {
        details: { now, issuedAt: payload.issuedAt, expiresAt: payload.expiresAt },
        hint: 'Check that both hosts keep time (NTP); commands are valid for a short time only.',
      },
    );
  }
  options.replay?.checkAndRemember(payload.nonce, payload.expiresAt + skew, payload.issuedAt);
  return payload as EnvelopePayload<B>;
}

function safeVerify(data: Buffer, key: KeyObject, sig: Buffer): boolean {
  try {
    return verify(null, data, key, sig);
  } catch {
    return false;
  }
}
