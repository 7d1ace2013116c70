/**
 * Pure planning: argument rules, version order, the configuration diff and the router selection. No
 * I/O here, so each rule is a unit test of its own.
 */
import { CONDUCTOR_ADDRESS, assetPhase, type AssetState, type AuthorityFacts } from '../ssr/conductor.js';
import type { ConfigDiff, Finding } from './types.js';

/** Argument rules: one or two new addresses, valid, distinct, and none of them an old address. */
export function checkAddresses(to: readonly string[], from: readonly string[]): Finding {
  const bad = [...to, ...from].filter((a) => !CONDUCTOR_ADDRESS.test(a));
  let message = '';
  if (to.length < 1 || to.length > 2) message = `--to takes one address, or two for an HA pair (got ${to.length})`;
  else if (bad.length) message = `not a conductor address: ${bad.join(', ')}`;
  else if (new Set(to).size !== to.length) message = `--to names ${to[0]} twice`;
  else if (from.length === 0) message = 'the old conductor address is unknown: give --from (global.init has none)';
  else if (to.some((a) => from.includes(a))) {
    message =
      `the new address(es) ${to.join(', ')} must differ from the old ${from.join(', ')} ` +
      '(same IP is a restore: conductor-agent restore)';
  }
  return { check: 'addresses', ok: message === '', message: message || `${from.join(', ')} → ${to.join(', ')}` };
}

/** `6.3.0-107.r1` → [6, 3, 0, 107, 1]. */
export function versionParts(v: string): number[] {
  return (v.match(/\d+/g) ?? []).map(Number);
}

/** < 0 when a is older than b. */
export function compareVersions(a: string, b: string): number {
  const x = versionParts(a);
  const y = versionParts(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export function checkVersions(oldVersion: string | undefined, newVersion: string | undefined): Finding {
  if (!oldVersion || !newVersion) {
    return {
      check: 'version',
      ok: false,
      message: `a conductor did not report its version (old ${oldVersion ?? '?'}, ` + `new ${newVersion ?? '?'})`,
    };
  }
  const ok = compareVersions(newVersion, oldVersion) >= 0;
  return {
    check: 'version',
    ok,
    message: ok
      ? `new ${newVersion} ≥ old ${oldVersion}`
      : `the new conductor runs ${newVersion}, older than the old ${oldVersion}: upgrade it first`,
  };
}

/** The new conductor may hold nothing but (a subset of) the old one's routers, and no pending edits. */
export function checkNoConflict(
  oldA: AuthorityFacts,
  newA: AuthorityFacts,
  newDirty: boolean,
  dirtyIsOurs: boolean,
): Finding {
  const known = new Set(oldA.routers.map((r) => r.name));
  const foreign = newA.routers.map((r) => r.name).filter((n) => !known.has(n));
  const problems: string[] = [];
  if (foreign.length) problems.push(`it has routers the old conductor does not: ${foreign.slice(0, 10).join(', ')}`);
  if (oldA.name && newA.name && newA.name !== oldA.name && newA.routers.length > 0) {
    problems.push(`its authority is ${newA.name}, not ${oldA.name}`);
  }
  if (newDirty && !dirtyIsOurs) problems.push('its candidate configuration has uncommitted changes');
  return {
    check: 'new-config',
    ok: problems.length === 0,
    message: problems.length
      ? `the new conductor holds conflicting configuration: ${problems.join('; ')}`
      : `no conflicting configuration (${newA.routers.length} router(s) already there)`,
    ...(foreign.length ? { details: { foreign } } : {}),
  };
}

/** `*` and `?` globs over router names. */
export function globMatcher(glob: string | undefined): (name: string) => boolean {
  if (!glob) return () => true;
  const re = new RegExp(
    '^' +
      glob
        .split('')
        .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
        .join('') +
      '$',
  );
  return (name) => re.test(name);
}

export function configDiff(oldA: AuthorityFacts, newA: AuthorityFacts, to: readonly string[]): ConfigDiff {
  const present = new Set(newA.routers.map((r) => r.name));
  return {
    conductorAddress: { before: [...oldA.conductorAddresses], after: [...to] },
    addRouters: oldA.routers.map((r) => r.name).filter((n) => !present.has(n)),
    presentRouters: oldA.routers.map((r) => r.name).filter((n) => present.has(n)),
  };
}

/** A router counts as done on a conductor when every node it lists there is Running. */
export function allRunning(assets: readonly AssetState[]): boolean {
  return assets.length > 0 && assets.every((a) => assetPhase(a.status) === 'running');
}

/** Connected (or further) on every node. */
export function allConnected(assets: readonly AssetState[]): boolean {
  return assets.length > 0 && assets.every((a) => ['connected', 'running'].includes(assetPhase(a.status)));
}

/** Human diff lines for `--dry-run`. */
export function renderDiff(d: ConfigDiff): string[] {
  const lines = [
    `- authority conductor-address ${d.conductorAddress.before.join(' ') || '(none)'}`,
    `+ authority conductor-address ${d.conductorAddress.after.join(' ')}`,
  ];
  const shown = d.addRouters.slice(0, 20);
  for (const r of shown) lines.push(`+ authority router ${r}`);
  if (d.addRouters.length > shown.length) lines.push(`+ … ${d.addRouters.length - shown.length} more router(s)`);
  if (d.presentRouters.length) lines.push(`= ${d.presentRouters.length} router(s) already on the new conductor`);
  return lines;
}
