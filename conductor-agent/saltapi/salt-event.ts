/**
 * Typed Salt events from the `/events` JSON (`{"data": {...}, "tag": "..."}`), classified by tag
 * (reference/salt.md §3, §8, §10). Pure.
 *
 * - `salt/auth`: `act` may be missing on 3006/3007 failures.
 * - `salt/key`: 3006/3007 say accept/reject/delete, 3008 accepted/rejected — normalised here.
 * - minion events (`cmd: _minion_event`): `id` is the master-authenticated minion id; the payload
 *   is one level deeper (`data.data`).
 */
import { tagMatches } from '../../shared/salt/event-tags.js';
import { badPayload } from './errors.js';
import type { RawSaltEvent } from './types.js';

export type SaltEvent =
  | {
      kind: 'auth';
      tag: string;
      raw: RawSaltEvent;
      minionId: string;
      result: boolean;
      act: 'accept' | 'pend' | 'reject' | 'denied' | 'full' | 'error' | undefined;
      pub: string | undefined;
    }
  | {
      kind: 'key';
      tag: string;
      raw: RawSaltEvent;
      minionId: string;
      act: 'accept' | 'reject' | 'delete' | 'pending' | 'denied' | string;
      result: boolean;
    }
  | { kind: 'minion-start'; tag: string; raw: RawSaltEvent; minionId: string }
  | { kind: 'minion-event'; tag: string; raw: RawSaltEvent; minionId: string; payload: unknown }
  | { kind: 'job-new'; tag: string; raw: RawSaltEvent; jid: string; minions: string[]; fun: string }
  | {
      kind: 'job-return';
      tag: string;
      raw: RawSaltEvent;
      jid: string;
      minionId: string;
      fun: string;
      return: unknown;
      success: boolean;
    }
  | { kind: 'other'; tag: string; raw: RawSaltEvent };

/** Parse one `data:` payload into a raw event (throws SALTAPI_BAD_PAYLOAD). `tagLine` is the `tag:` line if any. */
export function parseRawEvent(data: string, tagLine?: string): RawSaltEvent {
  let doc: unknown;
  try {
    doc = JSON.parse(data);
  } catch {
    throw badPayload('GET /events', 'event data is not JSON', data);
  }
  const o = doc as { tag?: unknown; data?: unknown };
  const tag = typeof o?.tag === 'string' ? o.tag : tagLine;
  if (typeof tag !== 'string' || !o || typeof o.data !== 'object' || o.data === null)
    throw badPayload('GET /events', 'event without tag/data', data);
  return { tag, data: o.data as Record<string, unknown> };
}

const ACTS: Record<string, string> = { accepted: 'accept', rejected: 'reject' };

/** Classify a raw event. */
export function classifySaltEvent(raw: RawSaltEvent): SaltEvent {
  const { tag, data } = raw;
  const str = (v: unknown): string => (typeof v === 'string' ? v : '');
  const isMinionEvent = data.cmd === '_minion_event' && typeof data.id === 'string';
  if (tag === 'salt/auth' && !isMinionEvent) {
    return {
      kind: 'auth',
      tag,
      raw,
      minionId: str(data.id),
      result: data.result === true,
      act: (data.act as never) ?? undefined,
      pub: typeof data.pub === 'string' ? data.pub : undefined,
    };
  }
  if (tag === 'salt/key' && !isMinionEvent) {
    const act = str(data.act);
    return { kind: 'key', tag, raw, minionId: str(data.id), act: ACTS[act] ?? act, result: data.result === true };
  }
  if (tagMatches('salt/minion/*/start', tag) && isMinionEvent && tag === `salt/minion/${str(data.id)}/start`) {
    return { kind: 'minion-start', tag, raw, minionId: str(data.id) };
  }
  if (isMinionEvent) return { kind: 'minion-event', tag, raw, minionId: str(data.id), payload: data.data };
  let m = /^salt\/job\/(\d+)\/new$/.exec(tag);
  if (m)
    return {
      kind: 'job-new',
      tag,
      raw,
      jid: m[1]!,
      minions: Array.isArray(data.minions) ? (data.minions as string[]) : [],
      fun: str(data.fun),
    };
  m = /^salt\/job\/(\d+)\/ret\/(.+)$/.exec(tag);
  if (m)
    return {
      kind: 'job-return',
      tag,
      raw,
      jid: m[1]!,
      minionId: m[2]!,
      fun: str(data.fun),
      return: data.return,
      success: data.success !== false,
    };
  return { kind: 'other', tag, raw };
}
