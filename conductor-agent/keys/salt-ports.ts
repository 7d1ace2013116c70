/**
 * Builds the salt-api backed {@link MinionProbe} for the CLI from configuration. The salt-api
 * client (conductor-agent/saltapi) is wired here once it lands; until then rotation needs an
 * injected probe (library callers) and the CLI reports that clearly.
 */
import { RecoveryError } from '../../shared/errors.js';
import type { CommandContext } from '../cli/context.js';
import type { MinionProbe } from './minion-probe.js';

/** A probe over the configured salt-api (`saltApi.*`). */
export async function saltApiProbeFromConfig(_ctx: CommandContext): Promise<MinionProbe> {
  throw new RecoveryError('NOT_IMPLEMENTED', 'the salt-api client is not in this build yet, so keys rotate cannot ask the minions', {
    hint: 'Use the library (rotateMasterKey with a MinionProbe) until the salt-api client is available.',
  });
}
