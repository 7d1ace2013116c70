/**
 * The SSR's reverse-tunnel map, `/var/lib/128technology/connect/nodeIdentifier` (reference/ssr.md
 * §3.2): ssh_config format, one `Host <node>.<router>` per router node with `HostName 127.127.0.1`
 * and a unique `Port` (the reverse tunnel each router node keeps to its conductor). Read as the
 * SSH inventory of last resort for routers without an agent: no inventory file, no extra port,
 * no firewall change. Unconfirmed: whether the tunnel stays up while the minion refuses the master
 * (the wave then falls back to direct SSH).
 */
import { SshError } from '../../shared/errors.js';

export interface TunnelEntry {
  /** The `Host` alias: `<node>.<router>`. */
  alias: string;
  node: string;
  router: string;
  hostName: string;
  port: number;
  user?: string | undefined;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,252}$/;
const HOST = /^[A-Za-z0-9.:-]{1,253}$/;

function bad(where: string, line: number, what: string): SshError {
  return new SshError('FLEET_INVENTORY_INVALID', `${where} line ${line}: ${what}`, { details: { file: where, line } });
}

/** Parse the map (pure). Keys other than HostName/Port/User are ignored; wildcards are skipped. */
export function parseNodeIdentifier(text: string, where = 'nodeIdentifier'): TunnelEntry[] {
  const out: TunnelEntry[] = [];
  let cur: (Partial<TunnelEntry> & { line?: number }) | undefined;
  const close = (): void => {
    if (!cur?.alias) return;
    if (!cur.hostName || !cur.port) throw bad(where, cur.line ?? 0, `Host ${cur.alias} has no HostName or Port`);
    out.push({
      alias: cur.alias,
      node: cur.node!,
      router: cur.router!,
      hostName: cur.hostName,
      port: cur.port,
      user: cur.user,
    });
  };
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) return;
    const m = /^(\S+)\s*(?:=\s*|\s+)(.+)$/.exec(line);
    if (!m) throw bad(where, i + 1, 'expected "Key value"');
    const key = m[1]!.toLowerCase();
    const value = m[2]!.trim();
    if (key === 'host') {
      close();
      cur = undefined;
      if (/[*?!\s]/.test(value)) return; // patterns are defaults, not routers
      if (!NAME.test(value) || !value.includes('.'))
        throw bad(where, i + 1, `Host ${JSON.stringify(value)} is not <node>.<router>`);
      const dot = value.indexOf('.');
      cur = { alias: value, node: value.slice(0, dot), router: value.slice(dot + 1), line: i + 1 };
    } else if (cur && key === 'hostname') {
      if (!HOST.test(value)) throw bad(where, i + 1, `HostName ${JSON.stringify(value)} is not a host`);
      cur.hostName = value;
    } else if (cur && key === 'port') {
      const p = Number(value);
      if (!Number.isInteger(p) || p < 1 || p > 65535)
        throw bad(where, i + 1, `Port ${JSON.stringify(value)} is not a port`);
      cur.port = p;
    } else if (cur && key === 'user') {
      if (!/^[A-Za-z_][A-Za-z0-9._-]{0,31}$/.test(value))
        throw bad(where, i + 1, `User ${JSON.stringify(value)} is not a user name`);
      cur.user = value;
    }
  });
  close();
  return out;
}

/**
 * Which minion ids a tunnel entry serves: `<node>.<router>` itself and, for a router with a single
 * node in the map, `<router>` (SSR minion ids are asset ids; an inventory entry can name the
 * minion explicitly when neither matches).
 */
export function tunnelMinionIds(entries: readonly TunnelEntry[]): Map<string, TunnelEntry> {
  const perRouter = new Map<string, number>();
  for (const e of entries) perRouter.set(e.router, (perRouter.get(e.router) ?? 0) + 1);
  const out = new Map<string, TunnelEntry>();
  for (const e of entries) {
    out.set(e.alias, e);
    if (perRouter.get(e.router) === 1 && !out.has(e.router)) out.set(e.router, e);
  }
  return out;
}
