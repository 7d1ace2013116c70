/**
 * Step 1, preflight (read-only): both conductors answer and log in, the addresses make sense, the new
 * software is not older, the new conductor holds no conflicting configuration, the router ports listen
 * on every new address, the Salt trust step has a safe mode, and a fresh verified backup exists (or
 * will be taken). Every check becomes a finding; the run stops before any change if one fails.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { asRecoveryError } from '../../shared/errors.js';
import { tcpReachable } from '../verify/checks.js';
import type { AuthorityFacts } from '../ssr/conductor.js';
import type { MigrateDeps } from './deps.js';
import { checkAddresses, checkNoConflict, checkVersions } from './plan.js';
import { decideTrust, type TrustDecision } from './trust.js';
import type { Finding } from './types.js';

export interface PreflightFacts {
  findings: Finding[];
  oldAuthority?: AuthorityFacts;
  newAuthority?: AuthorityFacts;
  trust?: TrustDecision;
  backup?: { archive: string; ageHours: number } | undefined;
}

const failed = (check: string, err: unknown): Finding => {
  const e = asRecoveryError(err);
  return { check, ok: false, message: e.message, details: { code: e.code, ...(e.hint ? { hint: e.hint } : {}) } };
};

async function login(d: MigrateDeps, which: 'old' | 'new'): Promise<Finding> {
  try {
    await (which === 'old' ? d.oldSsr : d.newSsr).login();
    return { check: `${which}-api`, ok: true, message: `logged in to the ${which} conductor's API` };
  } catch (err) {
    return failed(`${which}-api`, err);
  }
}

async function ports(d: MigrateDeps): Promise<Finding> {
  const probe = d.probe ?? tcpReachable;
  const closed: string[] = [];
  await Promise.all(
    d.args.to.flatMap((h) =>
      d.settings.ports.map(async (p) => {
        if (!(await probe(h, p))) closed.push(`${h}:${p}`);
      }),
    ),
  );
  return {
    check: 'ports',
    ok: closed.length === 0,
    message: closed.length
      ? `not listening on the new conductor: ${closed.sort().join(', ')} (routers need them; open them first)`
      : `${d.settings.ports.join(', ')} listen on ${d.args.to.join(', ')}`,
  };
}

async function trust(d: MigrateDeps, facts: PreflightFacts): Promise<Finding> {
  try {
    const oldPub = await readFile(join(d.paths.oldPkiDir, 'master.pub'));
    const newPub = await d.files.read(`${d.paths.newPkiDir.replace(/\/+$/, '')}/master.pub`);
    facts.trust = decideTrust(oldPub, newPub, d.settings.trust, d.repin, d.hashType);
    return { check: 'trust', ok: true, message: `${facts.trust.mode}: ${facts.trust.how}` };
  } catch (err) {
    return failed('trust', err);
  }
}

async function backup(d: MigrateDeps, facts: PreflightFacts): Promise<Finding> {
  try {
    facts.backup = await d.backup.find();
    return {
      check: 'backup',
      ok: true,
      message: facts.backup
        ? `fresh verified backup ${facts.backup.archive} (${facts.backup.ageHours.toFixed(1)} h old)`
        : 'no fresh verified backup: one is taken before anything changes',
    };
  } catch (err) {
    return failed('backup', err);
  }
}

/** Run every check (in parallel where independent); never throws for a failed check. */
export async function preflight(d: MigrateDeps, dirtyIsOurs: boolean): Promise<PreflightFacts> {
  const facts: PreflightFacts = { findings: [] };
  const f = facts.findings;
  f.push(checkAddresses(d.args.to, d.args.from));
  const [oldApi, newApi] = await Promise.all([login(d, 'old'), login(d, 'new')]);
  f.push(oldApi, newApi);
  if (oldApi.ok && newApi.ok) {
    try {
      const [ov, nv, oa, na, dirty] = await Promise.all([
        d.oldSsr.version(),
        d.newSsr.version(),
        d.oldSsr.authority(),
        d.newSsr.authority(),
        d.newSsr.candidateDirty(),
      ]);
      facts.oldAuthority = oa;
      facts.newAuthority = na;
      f.push(checkVersions(ov, nv), checkNoConflict(oa, na, dirty, dirtyIsOurs));
    } catch (err) {
      f.push(failed('conductors', err));
    }
  }
  f.push(await ports(d), await trust(d, facts), await backup(d, facts));
  return facts;
}
