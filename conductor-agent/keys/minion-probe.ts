/**
 * What rotate needs to learn from the minions, as a port: does each minion verify signed master
 * keys with *our* signing key, and which minions answer. The salt-api implementation asks the
 * running minions themselves (see docs/decisions.md "How a minion shows it verifies signatures");
 * the router-agent registry can provide the same port from signed agent reports later.
 */
import { pemFinger } from '../../shared/salt/fingerprint.js';

/** One minion's answer about signature verification. */
export interface SigningReport {
  id: string;
  /** The minion answered the probe at all. */
  responded: boolean;
  /** `verify_master_pubkey_sign` in the minion's running configuration; null = unknown. */
  verifies: boolean | null;
  /** Salt fingerprint of the minion's `<master_sign_key_name>.pub`; null = missing or unreadable. */
  signKeyFingerprint: string | null;
  /**
   * `master_finger` in the minion's running configuration ('' or null = none). A pinned minion
   * accepts the signed new key and then exits 42 on the fingerprint check (reference §4.4), so it
   * is not ready for a rotation.
   */
  masterFinger?: string | null;
}

export interface MinionProbe {
  /** Ask `ids` how they verify master keys. Minions that do not answer get `responded: false`. */
  signingReports(ids: readonly string[]): Promise<Map<string, SigningReport>>;
  /** The subset of `ids` that answers now (test.ping). */
  ping(ids: readonly string[]): Promise<Set<string>>;
}

/**
 * The smallest salt-api surface the probe needs: a `local` call returning `{minionId: result}` for
 * the minions that answered (reference §1.4). The salt-api client provides it.
 */
export interface SaltLocalCaller {
  local(
    tgt: string | readonly string[],
    fun: string,
    arg?: readonly unknown[],
    options?: { tgtType?: 'list' | 'glob'; timeout?: number },
  ): Promise<Record<string, unknown>>;
}

/** Default Salt minion pki_dir, used when the minion does not report one. */
const DEFAULT_MINION_PKI = '/etc/salt/pki/minion';

/**
 * A probe over salt-api: `test.ping`, then `config.get` of `verify_master_pubkey_sign`, `pki_dir`,
 * `master_sign_key_name` and `master_finger`, and `file.read <pki_dir>/<name>.pub` on the minions (read-only
 * calls). `config.get` returns the running minion's options, so a config edit that has not been
 * followed by a minion restart does not count.
 */
export function saltApiMinionProbe(salt: SaltLocalCaller, options: { timeoutSeconds?: number } = {}): MinionProbe {
  const timeout = options.timeoutSeconds ?? 15;
  const call = (ids: readonly string[], fun: string, arg: unknown[]): Promise<Record<string, unknown>> =>
    salt.local([...ids], fun, arg, { tgtType: 'list', timeout });
  const pingIds = async (ids: readonly string[]): Promise<string[]> => {
    if (ids.length === 0) return [];
    const r = await call(ids, 'test.ping', []);
    return ids.filter((id) => r[id] === true);
  };
  return {
    async signingReports(ids) {
      const out = new Map<string, SigningReport>();
      for (const id of ids) out.set(id, { id, responded: false, verifies: null, signKeyFingerprint: null });
      if (ids.length === 0) return out;
      // salt-api reports a minion that did not answer as `false`, the same value config.get returns
      // for "verification off": ping first, so silence and "off" stay distinguishable.
      const responders = await pingIds(ids);
      if (responders.length === 0) return out;
      const [verify, pki, name, finger] = await Promise.all([
        call(responders, 'config.get', ['verify_master_pubkey_sign']),
        call(responders, 'config.get', ['pki_dir']),
        call(responders, 'config.get', ['master_sign_key_name']),
        call(responders, 'config.get', ['master_finger']),
      ]);
      // Group minions by the key path they report, so one file.read call serves each group.
      const byPath = new Map<string, string[]>();
      for (const id of responders) {
        const v = verify[id];
        const f = finger[id];
        out.set(id, {
          id,
          responded: true,
          verifies: v === true ? true : v === false || v === '' ? false : null,
          signKeyFingerprint: null,
          // `false` here is salt-api's "no answer" for this call: unknown, which readiness treats as pinned.
          masterFinger: typeof f === 'string' ? f : null,
        });
        const dir = typeof pki[id] === 'string' && pki[id] !== '' ? (pki[id] as string) : DEFAULT_MINION_PKI;
        const keyName = typeof name[id] === 'string' && name[id] !== '' ? (name[id] as string) : 'master_sign';
        const path = `${dir.replace(/\/+$/, '')}/${keyName}.pub`;
        byPath.set(path, [...(byPath.get(path) ?? []), id]);
      }
      for (const [path, group] of byPath) {
        const texts = await call(group, 'file.read', [path]);
        for (const id of group) {
          const t = texts[id];
          let fp: string | null = null;
          if (typeof t === 'string') {
            try {
              fp = pemFinger(t);
            } catch {
              fp = null;
            }
          }
          out.set(id, { ...out.get(id)!, signKeyFingerprint: fp });
        }
      }
      return out;
    },
    async ping(ids) {
      return new Set(await pingIds(ids));
    },
  };
}
