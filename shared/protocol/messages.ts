/**
 * Wire types of the agent channel (router-agent ⇄ conductor-agent over wss). Every frame is one
 * JSON text message `{v, type, …}`. Commands, router hellos and reports travel inside a signed
 * {@link SignedEnvelope} (see envelope.ts); heartbeats, the conductor's hello and acks do not carry
 * authority and are protected by the pinned TLS channel only.
 *
 * Bump {@link PROTOCOL_VERSION} only for incompatible changes; an agent rejects other versions with
 * PROTOCOL_VERSION and keeps running.
 */

/** The one protocol version this build speaks. */
export const PROTOCOL_VERSION = 1;

/** Largest frame either side accepts (bytes of the JSON text). Reports cap their evidence well below. */
export const MAX_FRAME_BYTES = 64 * 1024;

/** The WebSocket path the conductor-agent serves router agents on. */
export const AGENT_WS_PATH = '/ssr-recovery/agent/v1';

/** A signed envelope: `payload` is base64url JSON of {@link EnvelopePayload}; `sig` is Ed25519 over it. */
export interface SignedEnvelope {
  payload: string;
  sig: string;
}

/** What is signed. `kind` stops a report being replayed as a command (and so on). */
export type EnvelopeKind = 'hello' | 'command' | 'report';

export interface EnvelopePayload<B = unknown> {
  kind: EnvelopeKind;
  /** The router (minion id) the envelope is about: the target of a command, the author of a report. */
  router: string;
  /** Unique per envelope (replay protection). */
  nonce: string;
  /** Milliseconds since the epoch. */
  issuedAt: number;
  expiresAt: number;
  body: B;
}

/** Trust states the router agent reports (DESIGN.md, issue 6). */
export const TRUST_STATES = ['trusted', 'stale-master-key', 'no-master-key', 'finger-mismatch', 'minion-down'] as const;
export type TrustState = (typeof TRUST_STATES)[number];

/** Commands the conductor-agent may send. */
export const COMMAND_NAMES = ['reauth', 'rollback', 'status'] as const;
export type CommandName = (typeof COMMAND_NAMES)[number];

export interface CommandBody {
  /** Unique command id; the router's report names it. */
  id: string;
  name: CommandName;
  /** reauth: the new master key's Salt fingerprint (sha256, colon hex) to pin. status: the current one, for the trust watcher. */
  fingerprint?: string;
  /** reauth: how long the router waits for its minion to authenticate. */
  timeoutMs?: number;
}

/** Facts behind a trust state (all optional: some are unknown on some hosts). */
export interface TrustFacts {
  state: TrustState;
  minionId: string;
  /** Fingerprint of the cached minion_master.pub, if present. */
  cachedFingerprint?: string | undefined;
  /** master_finger configured for the minion, if any. */
  pinnedFingerprint?: string | undefined;
  /** The master fingerprint the conductor says is current (from a signed status command). */
  expectedFingerprint?: string | undefined;
  /** Salt fingerprint of the minion's own public key (`minion.pub`): the key gate accepts a pending minion key only if it matches. */
  minionKeyFingerprint?: string | undefined;
  /** `SHA256:…` fingerprints of the router's sshd host keys: the SSH fallback pins them in a disaster. */
  sshHostKeys?: string[] | undefined;
  minionActive: boolean;
  /** Exit status inferred from the log (42 finger mismatch, 77 key rejected). */
  minionExit?: number | undefined;
  /** The last trust-relevant minion log lines (evidence). */
  evidence: string[];
  since: string;
}

/** A re-authentication or rollback outcome, as the router reports it. */
export interface ReauthOutcome {
  ok: boolean;
  action: 'reauth' | 'rollback';
  /** Error code when !ok (REAUTH_FAILED, REAUTH_REFUSED, LOCK_HELD, …). */
  code?: string | undefined;
  message?: string | undefined;
  fingerprint?: string | undefined;
  /** Fingerprint of the key the minion cached during the attempt. */
  cachedFingerprint?: string | undefined;
  /** Step name → milliseconds since start. */
  timings: Record<string, number>;
  /** Minion log lines written during the attempt (capped). */
  evidence: string[];
  /** True when the outcome was completed after an agent restart. */
  recovered?: boolean | undefined;
  trust?: TrustState | undefined;
  /** reauth: the positive evidence that the minion authenticated (the router's salt-call test.ping output). */
  confirmedBy?: string[] | undefined;
}

export type ReportBody =
  | { kind: 'trust'; trust: TrustFacts; commandId?: string | undefined }
  | { kind: 'reauth' | 'rollback'; commandId?: string | undefined; outcome: ReauthOutcome };

export interface RouterHelloBody {
  /** The challenge from the conductor's hello (replay protection without a cache). */
  challenge: string;
  /** The agent's Ed25519 public key (SPKI PEM). */
  agentPublicKey: string;
  agentVersion: string;
}

/** conductor → router on connect. */
export interface ConductorHelloFrame {
  v: number;
  type: 'hello';
  role: 'conductor';
  challenge: string;
  serverTime: number;
}
/** router → conductor, answering the challenge. */
export interface RouterHelloFrame {
  v: number;
  type: 'hello';
  role: 'router';
  envelope: SignedEnvelope;
}
export interface HeartbeatFrame {
  v: number;
  type: 'heartbeat';
  ts: number;
}
export interface CommandFrame {
  v: number;
  type: 'command';
  envelope: SignedEnvelope;
}
export interface ReportFrame {
  v: number;
  type: 'report';
  envelope: SignedEnvelope;
}
/** Receipt for a command (router → conductor) or a hello (conductor → router). */
export interface AckFrame {
  v: number;
  type: 'ack';
  /** Command id, or `hello`. */
  id: string;
  ok: boolean;
  code?: string | undefined;
  message?: string | undefined;
  /** hello acks: is the agent's key enrolled in the conductor's registry? */
  enrolled?: boolean | undefined;
}

export type Frame = ConductorHelloFrame | RouterHelloFrame | HeartbeatFrame | CommandFrame | ReportFrame | AckFrame;
export type FrameType = Frame['type'];
