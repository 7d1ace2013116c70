/**
 * Pure parse and validation of agent-channel frames. Anything that is not a frame this build
 * understands becomes a ProtocolError with a stable code (PROTOCOL_TOO_LARGE, PROTOCOL_MALFORMED,
 * PROTOCOL_VERSION); callers answer with that code and keep running.
 */
import { ProtocolError } from '../errors.js';
import { MAX_FRAME_BYTES, PROTOCOL_VERSION, type Frame, type SignedEnvelope } from './messages.js';

export interface DecodeOptions {
  maxBytes?: number;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStr = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

function malformed(why: string): ProtocolError {
  return new ProtocolError('PROTOCOL_MALFORMED', `malformed frame: ${why}`, {
    hint: 'Both agents must run compatible ssr-recovery versions.',
  });
}

/** True when `v` has the shape of a signed envelope (the signature is checked by envelope.ts). */
export function isEnvelope(v: unknown): v is SignedEnvelope {
  return (
    isObj(v) && isStr(v.payload) && isStr(v.sig) && /^[A-Za-z0-9_-]+$/.test(v.payload) && /^[A-Za-z0-9_-]+$/.test(v.sig)
  );
}

/** Parse one frame (text or bytes). */
export function decodeFrame(data: string | Buffer | ArrayBuffer | Buffer[], options: DecodeOptions = {}): Frame {
  const max = options.maxBytes ?? MAX_FRAME_BYTES;
  const buf =
    typeof data === 'string'
      ? Buffer.from(data, 'utf8')
      : Array.isArray(data)
        ? Buffer.concat(data)
        : Buffer.isBuffer(data)
          ? data
          : Buffer.from(data);
  if (buf.length > max) {
    throw new ProtocolError('PROTOCOL_TOO_LARGE', `frame of ${buf.length} bytes exceeds the ${max}-byte limit`, {
      details: { bytes: buf.length, max },
    });
  }
  let v: unknown;
  try {
    v = JSON.parse(buf.toString('utf8'));
  } catch {
    throw malformed('not JSON');
  }
  if (!isObj(v)) throw malformed('not a JSON object');
  if (v.v !== PROTOCOL_VERSION) {
    throw new ProtocolError(
      'PROTOCOL_VERSION',
      `protocol version ${JSON.stringify(v.v)} is not supported (this agent speaks ${PROTOCOL_VERSION})`,
      {
        details: { got: v.v, want: PROTOCOL_VERSION },
        hint: 'Upgrade the older agent so both speak the same protocol version.',
      },
    );
  }
  switch (v.type) {
    case 'hello':
      if (v.role === 'conductor' && isStr(v.challenge) && typeof v.serverTime === 'number')
        return v as unknown as Frame;
      if (v.role === 'router' && isEnvelope(v.envelope)) return v as unknown as Frame;
      throw malformed('bad hello');
    case 'heartbeat':
      if (typeof v.ts === 'number') return v as unknown as Frame;
      throw malformed('bad heartbeat');
    case 'command':
    case 'report':
      if (isEnvelope(v.envelope)) return v as unknown as Frame;
      throw malformed(`bad ${v.type}: no signed envelope`);
    case 'ack':
      if (isStr(v.id) && typeof v.ok === 'boolean' && (v.code === undefined || typeof v.code === 'string'))
        return v as unknown as Frame;
      throw malformed('bad ack');
    default:
      throw malformed(`unknown type ${JSON.stringify(v.type)}`);
  }
}

/** Serialise a frame, refusing to send what the peer would refuse to read. */
export function encodeFrame(frame: Frame, options: DecodeOptions = {}): string {
  const text = JSON.stringify(frame);
  const max = options.maxBytes ?? MAX_FRAME_BYTES;
  if (Buffer.byteLength(text) > max) {
    throw new ProtocolError('PROTOCOL_TOO_LARGE', `outgoing ${frame.type} frame exceeds the ${max}-byte limit`, {
      details: { type: frame.type, max },
    });
  }
  return text;
}
