/**
 * SSH routes per minion id for a wave (pure): the SSR reverse tunnel from the nodeIdentifier map
 * first, then direct SSH from the inventory; each with its pinned host keys (inventory `hostKeys`,
 * the keys the router's agent reported in peacetime, a known_hosts file).
 */
import type { SshRoute } from '../fleet/plan.js';
import type { InventoryEntry } from './inventory.js';
import { pinsFor, type KnownHostLine } from './known-hosts.js';
import { tunnelMinionIds, type TunnelEntry } from './node-identifier.js';

export interface RouteInputs {
  tunnels: readonly TunnelEntry[];
  inventory: readonly InventoryEntry[];
  knownHosts: readonly KnownHostLine[];
  knownHostsSource?: string | undefined;
  /** sshd host key fingerprints reported (signed) by each router's agent. */
  reportedHostKeys: ReadonlyMap<string, readonly string[]>;
  defaultUser: string;
}

export function buildSshRoutes(i: RouteInputs): Map<string, SshRoute[]> {
  const out = new Map<string, SshRoute[]>();
  const settings = new Map<string, { e: InventoryEntry; index: number }>();
  i.inventory.forEach((e, index) => {
    if (!e.host) settings.set(e.minion, { e, index });
  });
  const add = (id: string, r: SshRoute): void => {
    out.set(id, [...(out.get(id) ?? []), r]);
  };
  const pins = (
    id: string,
    host: string,
    port: number,
    extra: readonly string[],
  ): Pick<SshRoute, 'hostKeys' | 'hostKeySource'> => {
    const reported = i.reportedHostKeys.get(id) ?? [];
    const known = pinsFor(i.knownHosts, host, port);
    const all = [...new Set([...extra, ...reported, ...known])];
    const source = [
      extra.length ? 'inventory' : '',
      reported.length ? 'agent-report' : '',
      known.length ? (i.knownHostsSource ?? 'known_hosts') : '',
    ]
      .filter(Boolean)
      .join('+');
    return { hostKeys: all, hostKeySource: source || undefined };
  };
  for (const [id, t] of tunnelMinionIds(i.tunnels)) {
    const s = settings.get(id);
    add(id, {
      channel: 'ssh-tunnel',
      host: t.hostName,
      port: t.port,
      username: s?.e.user ?? t.user ?? i.defaultUser,
      alias: t.alias,
      inventoryIndex: s?.index,
      ...pins(id, t.hostName, t.port, s?.e.hostKeys ?? []),
    });
  }
  i.inventory.forEach((e, index) => {
    if (!e.host) return;
    add(e.minion, {
      channel: 'ssh-direct',
      host: e.host,
      port: e.port,
      username: e.user ?? i.defaultUser,
      inventoryIndex: index,
      ...pins(e.minion, e.host, e.port, e.hostKeys),
    });
  });
  return out;
}
