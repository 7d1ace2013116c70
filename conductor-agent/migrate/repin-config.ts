/**
 * The re-pin port from configuration: the fleet's sources (the daemon's fleet view, the registry's
 * signed facts, SSH routes), the agent channel through the daemon's control socket, the SSH fallback,
 * the new master's key folders through the migrate file port and `test.ping` through the NEW
 * conductor's salt-api (`migrate.to.saltApiUrl`); the old conductor's salt-api for pinning a rolled
 * back router to the old key again. Wired on first use, so a same-key migration opens none of it.
 */
import { readFile } from 'node:fs/promises';
import type { CommandContext } from '../cli/context.js';
import { systemClock } from '../../shared/ports/clock.js';
import type { SaltHashType } from '../../shared/salt/fingerprint.js';
import { localFiles, type NewConductorFiles } from './files.js';
import { fleetRepin, newMasterKeys, type FleetRepinPorts, type RepinTarget } from './repin.js';
import type { RouterRepin } from './trust.js';

type Ctx = Pick<CommandContext, 'config' | 'loaded' | 'logger' | 'io'>;

export interface RepinWiring {
  /** The new master's pki folder (system path on the new conductor). */
  newPkiDir: string;
  /** The old master's pki folder (local path, root applied). */
  oldPkiDir: string;
  hashType: SaltHashType;
  files: () => NewConductorFiles;
}

const withAddress = (template: string, address: string): string => template.split('{address}').join(address);

/** Refuses at preflight (MIGRATE_TRUST_UNAVAILABLE) when nothing could confirm a re-pin. */
export function repinFromConfig(ctx: Ctx, address: string, w: RepinWiring): RouterRepin {
  const url = ctx.config.migrate.to.saltApiUrl;
  const credentials = Boolean(ctx.config.saltApi.username && ctx.config.saltApi.passwordFile);
  if (!url || !credentials) {
    const why = url ? 'saltApi.username / passwordFile are not set' : 'migrate.to.saltApiUrl is not set';
    return {
      available: false,
      description: `a re-pin is confirmed by test.ping through the new conductor's salt-api, and ${why}`,
      async repin() {
        throw new Error('unreachable: preflight refuses repin mode without the new salt-api');
      },
    };
  }
  const r = ctx.config.reauth;
  return fleetRepin(() => wire(ctx, withAddress(url, address), w), {
    routerTimeoutMs: r.routerTimeoutSeconds * 1000,
    verifyTimeoutMs: r.verifyTimeoutSeconds * 1000,
  });
}

async function target(ctx: Ctx, url: string, keys: RepinTarget['keys']): Promise<RepinTarget> {
  const { saltApiClientFromConfig } = await import('../saltapi/from-config.js');
  const { saltApiMinionProbe } = await import('../keys/minion-probe.js');
  const config = { ...ctx.config, saltApi: { ...ctx.config.saltApi, url } };
  const client = await saltApiClientFromConfig(config, { path: ctx.loaded.path, logger: ctx.logger });
  return { keys, pinger: saltApiMinionProbe(client, { timeoutSeconds: 5 }) };
}

async function wire(ctx: Ctx, newUrl: string, w: RepinWiring): Promise<FleetRepinPorts> {
  const { wireWave } = await import('../fleet/from-config.js');
  const fleet = await wireWave(ctx as CommandContext, {});
  const oldAccepted = (id: string): Promise<string | undefined> =>
    readFile(`${w.oldPkiDir}/minions/${id}`, 'utf8').catch(() => undefined);
  const keys = (files: NewConductorFiles, pkiDir: string) =>
    newMasterKeys({ files, newPkiDir: pkiDir, oldAccepted, hashType: w.hashType });
  return {
    // Signed `reauth` commands through this conductor's daemon (the listener the routers' agents are
    // connected to and whose key they pin); the master-side confirmation is the NEW salt-api's.
    agent: fleet.agent,
    ssh: await sshFallback(ctx),
    sources: fleet.sources,
    new: await target(ctx, newUrl, keys(w.files(), w.newPkiDir)),
    old: await target(ctx, ctx.config.saltApi.url, keys(localFiles(ctx.loaded.root), ctx.config.salt.pkiDir)),
    clock: systemClock,
    logger: ctx.logger,
  };
}

async function sshFallback(ctx: Ctx) {
  const r = ctx.config.reauth;
  const { sshReauthChannel } = await import('../ssh/steps.js');
  const { parseInventory } = await import('../ssh/inventory.js');
  const invFile = r.inventoryFile ? ctx.loaded.path(r.inventoryFile) : undefined;
  const inventory = invFile ? parseInventory(await readFile(invFile, 'utf8'), invFile) : [];
  return sshReauthChannel({
    inventory,
    clock: systemClock,
    logger: ctx.logger,
    path: ctx.loaded.path,
    defaults: { user: r.sshUser, keyFile: r.sshKeyFile, passwordFile: r.sshPasswordFile, sudo: r.sshSudo },
  });
}
