/**
 * Build a {@link SaltApiClient} from the conductor configuration (`saltApi.*`, DESIGN.md operator
 * interface): the password is read from `saltApi.passwordFile` (first line, never logged), the CA
 * from `saltApi.caFile`; both resolved under the root prefix.
 */
import { readFile } from 'node:fs/promises';
import { ConfigError } from '../../shared/errors.js';
import type { ConductorConfig } from '../../shared/config/schema.js';
import type { Logger } from '../../shared/log/logger.js';
import { SaltApiClient, type SaltApiClientOptions } from './client.js';

export interface FromConfigOptions {
  /** Resolve a system path under `--root` (`Loaded.path`). */
  path: (systemPath: string) => string;
  logger?: Logger;
  /** Extra client options (tests: fetch, clock). */
  overrides?: Partial<SaltApiClientOptions>;
}

/** True when salt-api credentials are configured. */
export function saltApiConfigured(config: ConductorConfig): boolean {
  return Boolean(config.saltApi.username && config.saltApi.passwordFile);
}

export async function saltApiClientFromConfig(config: ConductorConfig, o: FromConfigOptions): Promise<SaltApiClient> {
  const s = config.saltApi;
  if (!s.username || !s.passwordFile) {
    throw new ConfigError('CONFIG_MISSING', 'salt-api credentials are not configured', {
      hint: 'Set saltApi.username and saltApi.passwordFile (a 0600 file holding the password or shared secret).',
    });
  }
  const pwPath = o.path(s.passwordFile);
  const password = async (): Promise<string> => {
    try {
      return (await readFile(pwPath, 'utf8')).split(/\r?\n/)[0]!;
    } catch (err) {
      throw new ConfigError(
        'CONFIG_UNREADABLE',
        `cannot read saltApi.passwordFile ${pwPath}: ${(err as Error).message}`,
        { cause: err, details: { file: pwPath } },
      );
    }
  };
  let ca: Buffer | undefined;
  if (s.caFile) {
    try {
      ca = await readFile(o.path(s.caFile));
    } catch (err) {
      throw new ConfigError(
        'CONFIG_UNREADABLE',
        `cannot read saltApi.caFile ${o.path(s.caFile)}: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }
  return new SaltApiClient({
    url: s.url,
    username: s.username,
    password,
    eauth: s.eauth,
    timeoutMs: s.timeoutMs,
    ...(ca ? { ca } : {}),
    ...(o.logger ? { logger: o.logger } : {}),
    ...(o.overrides ?? {}),
  });
}
