/**
 * Builds the salt-api backed {@link MinionProbe} for the CLI from configuration (`saltApi.*`),
 * through the shared salt-api client.
 */
import type { CommandContext } from '../cli/context.js';
import { saltApiMinionProbe, type MinionProbe, type SaltLocalCaller } from './minion-probe.js';

/** A probe over the configured salt-api. */
export async function saltApiProbeFromConfig(ctx: CommandContext): Promise<MinionProbe> {
  const { saltApiClientFromConfig } = await import('../saltapi/from-config.js');
  const client: SaltLocalCaller = await saltApiClientFromConfig(ctx.config, {
    path: ctx.loaded.path,
    logger: ctx.logger,
  });
  return saltApiMinionProbe(client);
}
