/**
 * The master's `_minion_event` (salt/daemons/masterapi.py, Salt 3006.18; reference/salt.md §8, §10):
 * - a plain event (`tag` + `data`) fires the whole load under its tag, with the `id` the master
 *   authenticated (a sender's own `id` is corrected, as observed);
 * - a *batched* event (`events: [...]`) fires each entry's `data` (or the entry itself when it has no
 *   `data`) **verbatim**: whatever `id` and `cmd` the sender wrote, nothing tied to the sender.
 *   Entries whose tag is on Salt's minion blacklist are dropped; with a `pretag` each entry is also
 *   fired under `<pretag>/<tag>`.
 * The minion-start events are the plain path with the legacy `minion_start` duplicate.
 */
import { fnmatch } from './glob.js';
import type { SaltEventBus } from './event-bus.js';

/** MINION_EVENT_BLACKLIST in salt/daemons/masterapi.py. */
export const MINION_EVENT_BLACKLIST = [
  'salt/job/*/publish',
  'salt/job/*/new',
  'salt/job/*/return',
  'salt/key',
  'salt/cloud/*',
  'salt/run/*',
  'salt/cluster/*',
  'salt/wheel/*/new',
  'salt/wheel/*/return',
];

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function validMinionTag(tag: string): boolean {
  return !MINION_EVENT_BLACKLIST.some((b) => fnmatch(tag, b));
}

/** Fire a minion's `_minion_event` load on the bus; false when Salt would refuse the load. */
export function fireMinionEvent(
  bus: SaltEventBus,
  authedId: string,
  m: Record<string, unknown>,
  nowSeconds: number,
): boolean {
  if (Array.isArray(m.events)) {
    const pretag = typeof m.pretag === 'string' ? m.pretag : undefined;
    for (const ev of m.events as unknown[]) {
      if (!isObj(ev) || typeof ev.tag !== 'string') continue; // Salt raises on a missing tag
      const data = 'data' in ev ? ev.data : ev;
      if (!validMinionTag(ev.tag) || !isObj(data)) continue;
      bus.fire(ev.tag, { ...data });
      if (pretag) bus.fire(`${pretag}/${ev.tag}`, { ...data });
    }
    return true;
  }
  if (typeof m.tag !== 'string' || !('data' in m)) return false;
  const tag = m.tag;
  if (m.start) {
    // salt/minion/<id>/start re-fires the whole load (tok removed), plus the legacy minion_start
    const load = { id: authedId, cmd: '_minion_event', pretag: null, data: m.data, tag };
    bus.fire(tag, load);
    bus.fire('minion_start', { ...load, tag: 'minion_start' });
    return true;
  }
  bus.fire(tag, { id: authedId, tag, data: m.data, cmd: '_minion_event', ts: nowSeconds });
  return true;
}
