/**
 * Our own Salt event tags, in one place: the router agent fires them with `salt-call event.send`,
 * the conductor-agent listens for them on salt-api `/events`, and the reactor states in
 * salt-states/reactor/ match them. Salt's own tags we react to are listed too.
 */
export const EVENT_TAGS = {
  /** Router agent announces its public key in a statement signed with minion.pem (the event's `id` proves nothing). */
  agentEnroll: 'ssr-recovery/router-agent/enroll',
  /** Router agent reports a trust-state change while Salt still works. */
  agentTrust: 'ssr-recovery/router-agent/trust',
  /** Conductor-agent finished a re-authentication wave (reactors/orchestration may chain on it). */
  reauthDone: 'ssr-recovery/conductor-agent/reauth/done',
  /** Conductor-agent finished a backup. */
  backupDone: 'ssr-recovery/conductor-agent/backup/done',
} as const;

/** Salt's own tags (reference/salt.md §3). */
export const SALT_TAGS = {
  auth: 'salt/auth',
  key: 'salt/key',
  minionStart: (id: string) => `salt/minion/${id}/start`,
} as const;

/** Salt-style tag matching: `*` matches any run of characters (fnmatch as the reactor uses it). */
export function tagMatches(pattern: string, tag: string): boolean {
  const re = new RegExp(
    '^' +
      pattern
        .split('*')
        .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('.*') +
      '$',
  );
  return re.test(tag);
}
