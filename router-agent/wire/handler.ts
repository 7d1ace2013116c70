/**
 * Commands from the conductor-agent: verify the signed envelope (pinned conductor key, this router,
 * fresh, not replayed, its nonce durably remembered), ack with a stable code either way, then run
 * it. A refused command changes nothing and the agent keeps running.
 */
import type { KeyObject } from 'node:crypto';
import { RecoveryError } from '../../shared/errors.js';
import type { Clock } from '../../shared/ports/clock.js';
import type { Logger } from '../../shared/log/logger.js';
import { verifyEnvelope, peekPayload } from '../../shared/protocol/envelope.js';
import type { ReplayCache } from '../../shared/protocol/replay-cache.js';
import {
  COMMAND_NAMES,
  PROTOCOL_VERSION,
  type AckFrame,
  type CommandBody,
  type CommandFrame,
} from '../../shared/protocol/messages.js';

export interface CommandHandlerOptions {
  routerId: string;
  conductorKeys: readonly KeyObject[];
  replay: ReplayCache;
  clock: Clock;
  logger: Logger;
  /** Run a verified command; resolves when its report has been queued. */
  run(body: CommandBody, reply: (frame: AckFrame) => void): Promise<void>;
}

/** Validate the body of a verified command. */
export function checkCommandBody(body: unknown): CommandBody {
  const b = body as Partial<CommandBody>;
  if (typeof b.id !== 'string' || b.id.length === 0 || b.id.length > 128)
    throw new RecoveryError('PROTOCOL_MALFORMED', 'command has no id');
  if (!COMMAND_NAMES.includes(b.name as CommandBody['name']))
    throw new RecoveryError('PROTOCOL_MALFORMED', `unknown command ${JSON.stringify(b.name)}`);
  if (b.fingerprint !== undefined && typeof b.fingerprint !== 'string')
    throw new RecoveryError('PROTOCOL_MALFORMED', 'fingerprint must be a string');
  if (b.timeoutMs !== undefined && (typeof b.timeoutMs !== 'number' || b.timeoutMs <= 0 || b.timeoutMs > 3_600_000)) {
    throw new RecoveryError('PROTOCOL_MALFORMED', 'timeoutMs out of range');
  }
  return b as CommandBody;
}

export function makeCommandHandler(
  o: CommandHandlerOptions,
): (frame: CommandFrame, reply: (frame: AckFrame) => void) => Promise<void> {
  return async (frame, reply) => {
    let body: CommandBody;
    try {
      const payload = verifyEnvelope(frame.envelope, {
        kind: 'command',
        publicKeys: o.conductorKeys,
        router: o.routerId,
        clock: o.clock,
        replay: o.replay,
      });
      body = checkCommandBody(payload.body);
      // The nonce is on disk before the command acts: a crash after this cannot make it playable again.
      await o.replay.flush();
    } catch (err) {
      const code = err instanceof RecoveryError ? err.code : 'PROTOCOL_MALFORMED';
      const peek = peekPayload(frame.envelope);
      const id =
        typeof (peek?.body as { id?: unknown } | undefined)?.id === 'string'
          ? (peek!.body as { id: string }).id
          : (peek?.nonce ?? 'unknown');
      o.logger.warn('refused a command', { code, id, message: (err as Error).message });
      reply({
        v: PROTOCOL_VERSION,
        type: 'ack',
        id: String(id).slice(0, 128),
        ok: false,
        code,
        message: (err as Error).message,
      });
      return;
    }
    reply({ v: PROTOCOL_VERSION, type: 'ack', id: body.id, ok: true });
    o.logger.info('accepted a command', { id: body.id, name: body.name });
    await o.run(body, reply);
  };
}
