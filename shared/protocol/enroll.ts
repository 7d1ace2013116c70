/**
 * Enrollment over Salt: while Salt works, the router agent announces its public key with
 * `salt-call event.send <ENROLL_TAG> <json>`. The master authenticated the minion, so the `id` the
 * master puts beside the payload (reference/salt.md §8, §10) names the router truthfully.
 */
import { EVENT_TAGS } from '../salt/event-tags.js';

/** Our custom Salt event tag (reactors and the conductor-agent listen for it). */
export const ENROLL_TAG = EVENT_TAGS.agentEnroll;

/** The payload the router agent sends (inside the event's `data.data`). */
export interface EnrollPayload {
  agentPublicKey: string;
  agentKeyFingerprint: string;
  agentVersion: string;
}

export interface EnrollEvent {
  minionId: string;
  payload: EnrollPayload;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Pick an enrollment out of a Salt event as seen on salt-api `/events`: `{tag, data: {id, cmd:
 * '_minion_event', data: {...payload, __pub_*}}}`. Returns undefined for anything else, including
 * events not fired by a minion (no authenticated id).
 */
export function parseEnrollEvent(tag: string, data: unknown): EnrollEvent | undefined {
  if (tag !== ENROLL_TAG || !isObj(data)) return undefined;
  if (data.cmd !== '_minion_event' || typeof data.id !== 'string' || data.id.length === 0) return undefined;
  const p = data.data;
  if (!isObj(p) || typeof p.agentPublicKey !== 'string' || !p.agentPublicKey.includes('BEGIN PUBLIC KEY')) return undefined;
  return {
    minionId: data.id,
    payload: {
      agentPublicKey: p.agentPublicKey,
      agentKeyFingerprint: typeof p.agentKeyFingerprint === 'string' ? p.agentKeyFingerprint : '',
      agentVersion: typeof p.agentVersion === 'string' ? p.agentVersion : 'unknown',
    },
  };
}
