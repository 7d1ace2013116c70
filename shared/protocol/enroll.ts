/**
 * Enrollment over Salt: while Salt works, the router agent announces its public key with
 * `salt-call event.send <ENROLL_TAG> <json>`.
 *
 * A field in a Salt event is not proof of its sender: the master fires the `data` of each entry of
 * a *batched* minion event verbatim, with whatever `id` and `cmd` the sender wrote
 * (reference/salt.md §10, `_minion_event` in salt/daemons/masterapi.py). So the announcement
 * carries a statement (router id, agent public key, time, nonce) signed with the minion's own Salt
 * key (`minion.pem`), and the conductor-agent believes it only when the signature verifies with
 * the *accepted* minion key `pki/master/minions/<router>`.
 *
 * Signature: RSASSA-PSS, SHA-256, MGF1 with SHA-256, salt length 32 bytes ({@link ENROLL_ALG}),
 * over the exact statement bytes that travel base64url-encoded in the event.
 */
import { constants, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { EVENT_TAGS } from '../salt/event-tags.js';

/** Our custom Salt event tag (reactors and the conductor-agent listen for it). */
export const ENROLL_TAG = EVENT_TAGS.agentEnroll;

/** The only signature algorithm accepted for an enrollment. */
export const ENROLL_ALG = 'RSASSA-PSS-SHA256';
/** Domain separation: a minion signature made for anything else is never an enrollment. */
export const ENROLL_PURPOSE = 'ssr-recovery/router-agent/enroll/v1';
/** Smallest minion RSA key accepted (Salt's own minimum `keysize`). */
export const MIN_MINION_KEY_BITS = 2048;

const PSS = { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } as const;

/** What the minion key vouches for. */
export interface EnrollStatement {
  purpose: typeof ENROLL_PURPOSE;
  router: string;
  agentPublicKey: string;
  agentVersion: string;
  /** ms since the epoch (router clock). */
  issuedAt: number;
  nonce: string;
}

/** The payload the router agent sends (inside the event's `data.data`). */
export interface EnrollPayload {
  /** Informational copies (the reactor reads them); the conductor trusts only `statement`. */
  agentPublicKey: string;
  agentKeyFingerprint: string;
  agentVersion: string;
  /** base64url of the statement's JSON bytes. */
  statement: string;
  /** base64url RSA-PSS signature over those bytes with the minion key. */
  signature: string;
  alg: typeof ENROLL_ALG;
}

/** An enrollment event as heard: `eventId` is the `id` beside the payload, which proves nothing. */
export interface EnrollEvent {
  eventId: string | undefined;
  data: Record<string, unknown>;
}

/** Why an enrollment was refused (logged with the claimed router id; never with key material). */
export type EnrollRefusal =
  | 'unsigned'
  | 'malformed'
  | 'bad-router-id'
  | 'id-mismatch'
  | 'minion-key-not-accepted'
  | 'minion-key-unusable'
  | 'bad-signature'
  | 'outside-window'
  | 'replayed';

export interface DecodedEnrollment {
  statement: EnrollStatement;
  bytes: Buffer;
  signature: Buffer;
}

export type DecodeResult =
  | { ok: true; value: DecodedEnrollment }
  | { ok: false; reason: EnrollRefusal; detail: string };

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Salt-like minion id check, also keeping ids safe as a file name under `pki/master/minions/`. */
export function validRouterId(id: unknown): id is string {
  return (
    typeof id === 'string' &&
    id.length > 0 &&
    id.length <= 255 &&
    id !== '.' &&
    id !== '..' &&
    !/[/\\\x00-\x1f\x7f]/.test(id)
  );
}

/** Strict base64url: only the alphabet, no padding, and re-encoding gives the same text. */
export function decodeBase64urlStrict(text: unknown): Buffer | undefined {
  if (typeof text !== 'string' || !/^[A-Za-z0-9_-]*$/.test(text)) return undefined;
  const buf = Buffer.from(text, 'base64url');
  return buf.toString('base64url') === text ? buf : undefined;
}

/** Sign a statement with the minion's private key (router side). */
export function signEnrollStatement(
  st: EnrollStatement,
  minionKey: KeyObject,
): { statement: string; signature: string } {
  const bytes = Buffer.from(JSON.stringify(st), 'utf8');
  const signature = sign('sha256', bytes, { key: minionKey, ...PSS });
  return { statement: bytes.toString('base64url'), signature: signature.toString('base64url') };
}

/**
 * Pick an enrollment out of a Salt event as seen on salt-api `/events`: `{tag, data: {id, cmd,
 * data: {...payload}}}`. Returns undefined when the event is not an enrollment at all.
 */
export function parseEnrollEvent(tag: string, data: unknown): EnrollEvent | undefined {
  if (tag !== ENROLL_TAG || !isObj(data) || !isObj(data.data)) return undefined;
  return { eventId: typeof data.id === 'string' ? data.id : undefined, data: data.data };
}

const refuse = (reason: EnrollRefusal, detail: string): DecodeResult => ({ ok: false, reason, detail });

/** Decode and check the shape of the signed statement (no key needed yet). */
export function decodeEnrollment(ev: EnrollEvent): DecodeResult {
  const d = ev.data;
  if (d.statement === undefined && d.signature === undefined) {
    return refuse('unsigned', 'the announcement carries no minion-key signature (router agent too old?)');
  }
  if (d.alg !== ENROLL_ALG) return refuse('malformed', `signature algorithm must be ${ENROLL_ALG}`);
  const bytes = decodeBase64urlStrict(d.statement);
  const signature = decodeBase64urlStrict(d.signature);
  if (!bytes || !signature || bytes.length > 8192 || signature.length === 0 || signature.length > 2048) {
    return refuse('malformed', 'statement or signature is not canonical base64url of a sane size');
  }
  let st: unknown;
  try {
    st = JSON.parse(bytes.toString('utf8'));
  } catch {
    return refuse('malformed', 'statement is not JSON');
  }
  if (!isObj(st) || st.purpose !== ENROLL_PURPOSE) return refuse('malformed', 'statement is not an enrollment');
  if (!validRouterId(st.router)) return refuse('bad-router-id', 'statement names no valid router id');
  if (
    typeof st.agentPublicKey !== 'string' ||
    typeof st.agentVersion !== 'string' ||
    typeof st.nonce !== 'string' ||
    st.nonce.length < 16 ||
    st.nonce.length > 128 ||
    typeof st.issuedAt !== 'number' ||
    !Number.isSafeInteger(st.issuedAt)
  ) {
    return refuse('malformed', 'statement lacks agent key, version, time or nonce');
  }
  if (ev.eventId !== undefined && ev.eventId !== st.router) {
    return refuse('id-mismatch', 'the event id differs from the router id the statement names');
  }
  return { ok: true, value: { statement: st as unknown as EnrollStatement, bytes, signature } };
}

/** Parse an accepted minion key file (`pki/master/minions/<id>`): RSA, at least 2048 bits. */
export function loadMinionPublicKey(pem: string): KeyObject | undefined {
  try {
    const key = createPublicKey(pem);
    if (key.asymmetricKeyType !== 'rsa') return undefined;
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    return bits >= MIN_MINION_KEY_BITS ? key : undefined;
  } catch {
    return undefined;
  }
}

/** Verify the signature with the accepted minion key and the time window (pure). */
export function checkEnrollment(
  d: DecodedEnrollment,
  minionKey: KeyObject,
  now: number,
  maxSkewMs: number,
): DecodeResult {
  let good = false;
  try {
    good = verify('sha256', d.bytes, { key: minionKey, ...PSS }, d.signature);
  } catch {
    good = false;
  }
  if (!good) {
    return refuse('bad-signature', `the signature does not verify with ${d.statement.router}'s accepted minion key`);
  }
  const skew = d.statement.issuedAt - now;
  if (Math.abs(skew) > maxSkewMs) {
    const s = (ms: number): number => Math.round(ms / 1000);
    return refuse('outside-window', `issued ${s(skew)} s from now; allowed ±${s(maxSkewMs)} s (check NTP)`);
  }
  return { ok: true, value: d };
}
