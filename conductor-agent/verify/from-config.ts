/**
 * Builds verify's ports from configuration: the SSR API client when `ssr.username` and
 * `ssr.passwordFile` are set, and the salt-api minion ping when salt-api credentials are set.
 */
import type { CommandContext } from '../cli/context.js';
import type { SsrConductor } from '../ssr/conductor.js';
import type { MinionPing } from './checks.js';
import { createHttpSsrConductor, readSecretFile } from '../ssr/http-conductor.js';
import type { SaltApiClient } from '../saltapi/client.js';

export async function ssrFromConfig(ctx: Pick<CommandContext, 'config' | 'loaded'>): Promise<SsrConductor | undefined> {
  const { ssr } = ctx.config;
  if (!ssr.username || !ssr.passwordFile) return undefined;
  return createHttpSsrConductor({
    url: ssr.url,
    username: ssr.username,
    password: await readSecretFile(ctx.loaded.path(ssr.passwordFile), 'ssr.passwordFile'),
  });
}

/**
 * `test.ping` through salt-api `local`. A minion that did not answer is `false` in the result
 * (reference/salt.md §1.4); one that is not targeted at all is absent.
 */
export function minionPing(client: Pick<SaltApiClient, 'local'>, timeoutSeconds = 10): MinionPing {
  return async (ids) => {
    const result = await client.local<boolean>(ids?.length ? ids : '*', 'test.ping', [], {
      timeout: timeoutSeconds,
    });
    const out: Record<string, boolean> = {};
    for (const id of ids ?? Object.keys(result)) out[id] = result[id] === true;
    return out;
  };
}

export async function minionPingFromConfig(
  ctx: Pick<CommandContext, 'config' | 'loaded' | 'logger'>,
): Promise<MinionPing | undefined> {
  const { saltApiConfigured, saltApiClientFromConfig } = await import('../saltapi/from-config.js');
  if (!saltApiConfigured(ctx.config)) return undefined;
  return minionPing(await saltApiClientFromConfig(ctx.config, { path: ctx.loaded.path, logger: ctx.logger }));
}
