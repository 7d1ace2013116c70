/**
 * The router agent's durable nonce memory (`<agent.stateDir>/replay-cache.json`, 0600). A command
 * acts only after its nonce is fsync'd here (the handler awaits `flush`), so a crash right after a
 * command ran cannot make it playable again. When the file is missing or unreadable the previous
 * run's nonces are unknown: the cache then refuses every envelope issued before this start, and
 * that cut-off is kept in the file until every envelope it covers has expired (a second restart
 * must not forget it).
 */
import { promises as fsp } from 'node:fs';
import { writeFileAtomic } from '../../shared/fs/atomic.js';
import type { Clock } from '../../shared/ports/clock.js';
import type { Logger } from '../../shared/log/logger.js';
import { DEFAULT_MAX_SKEW_MS, MAX_ENVELOPE_TTL_MS } from '../../shared/protocol/envelope.js';
import { ReplayCache } from '../../shared/protocol/replay-cache.js';

interface StoredReplay {
  v: 1;
  notBefore?: number | undefined;
  entries: [string, number][];
}

const isEntries = (v: unknown): v is [string, number][] =>
  Array.isArray(v) &&
  v.every((e) => Array.isArray(e) && e.length === 2 && typeof e[0] === 'string' && Number.isFinite(e[1]));

/** Parse the file's text; undefined when it is not a replay memory this build wrote. */
export function parseReplayFile(text: string): StoredReplay | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (isEntries(v)) return { v: 1, entries: v }; // the earlier format: a bare entry list
  const o = v as Partial<StoredReplay> | null;
  if (o?.v !== 1 || !isEntries(o.entries)) return undefined;
  if (o.notBefore !== undefined && !Number.isFinite(o.notBefore)) return undefined;
  return { v: 1, notBefore: o.notBefore, entries: o.entries };
}

export interface OpenReplayOptions {
  file: string;
  clock: Pick<Clock, 'now'>;
  logger: Logger;
  maxEntries?: number;
}

/** Load the memory (failing closed when it is lost) and queue writing it back. */
export async function openReplayStore(o: OpenReplayOptions): Promise<ReplayCache> {
  const now = o.clock.now();
  const text = await fsp
    .readFile(o.file, 'utf8')
    .catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? null : ''));
  const stored = text === null ? undefined : parseReplayFile(text);
  let notBefore = stored?.notBefore;
  if (!stored) {
    notBefore = now;
    o.logger.warn(text === null ? 'no replay memory from an earlier run' : 'the replay memory is unreadable', {
      file: o.file,
      refusingIssuedBefore: new Date(now).toISOString(),
    });
  }
  // Once every envelope issued before the cut-off has expired, the cut-off protects nothing.
  if (notBefore !== undefined && now > notBefore + MAX_ENVELOPE_TTL_MS + 2 * DEFAULT_MAX_SKEW_MS) notBefore = undefined;
  const persist = (entries: [string, number][]): Promise<void> =>
    writeFileAtomic(o.file, JSON.stringify({ v: 1, notBefore, entries } satisfies StoredReplay));
  const cache = new ReplayCache({
    clock: o.clock,
    initial: stored?.entries ?? [],
    maxEntries: o.maxEntries ?? 10_000,
    notBefore,
    persist,
    unsaved: true,
  });
  // Written at once (the cut-off must survive a second restart) but off the start path: the write
  // is queued on the cache's own flush chain, so a command's flush waits for it and cannot be
  // overtaken by it. A failure here is retried by the first command's flush, which refuses the
  // command if it fails again.
  void cache.flush().catch((err: unknown) => o.logger.warn('cannot write the replay memory', { file: o.file, err }));
  return cache;
}
