/**
 * What a wave talks to, as ports: the agent channel (signed commands through the daemon), the SSH
 * fallback, the key gate, Salt's `test.ping`, the clock, the journal. The CLI wires the real ones;
 * tests and the bench wire the same real parts on loopback.
 */
import type { Clock } from '../../shared/ports/clock.js';
import type { KeyGate } from './key-gate.js';
import type { SshRoute } from './plan.js';
import type { Pinger } from './verify.js';
import type { RouterOutcome } from './report.js';

/** What a channel reports back about one router's re-authentication. */
export interface ChannelResult {
  ok: boolean;
  code?: string | undefined;
  message?: string | undefined;
  evidence?: string[] | undefined;
  /** Steps (ms since the channel started). */
  timings?: Record<string, number> | undefined;
  /** The minion key fingerprint read on the router (SSH reads `minion.pub` over the pinned session). */
  minionKeyFingerprint?: string | undefined;
}

/** Signed reauth command through the agent. Throws RecoveryErrors for transport problems. */
export interface AgentChannel {
  reauth(routerId: string, fingerprint: string, routerTimeoutMs: number): Promise<ChannelResult>;
}

/**
 * The SSH fallback's steps over one pinned session. Throws SSH_HOST_KEY_MISMATCH / SSH_HOST_KEY_UNKNOWN /
 * SSH_FAILED when no session could be opened (the wave then tries the next route); a failing step
 * comes back as `ok: false` with its output as evidence.
 */
export interface SshChannel {
  reauth(
    routerId: string,
    route: SshRoute,
    fingerprint: string,
    o: {
      timeoutMs: number;
      signal?: AbortSignal | undefined;
      /**
       * The minion key fingerprint as soon as it is read over the pinned session: a rebuilt master
       * holds the key pending, and the minion cannot confirm until the gate accepts it.
       */
      onMinionKey?: ((fingerprint: string) => void) | undefined;
    },
  ): Promise<ChannelResult>;
}

export interface WavePorts {
  agent?: AgentChannel | undefined;
  ssh?: SshChannel | undefined;
  gate: KeyGate;
  pinger: Pinger;
  clock: Clock;
  /** Appends each finished router (the journal); optional for dry runs and tests. */
  record?: ((o: RouterOutcome) => Promise<void>) | undefined;
}
