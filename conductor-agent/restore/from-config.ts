/**
 * Real restore ports from configuration, shared by the CLI and the drill: 128T (and salt-master
 * when `restore.stopSaltMaster`) through `systemctl` or the configured `services.<name>.*` command
 * lines, and a salt-api login as the post-verify "salt-api answers" check when `saltApi.username`
 * and `saltApi.passwordFile` are set.
 */
import type { ConductorConfig } from '../../shared/config/schema.js';
import type { Logger } from '../../shared/log/logger.js';
import { commandServiceControl } from '../../shared/ports/service-control.js';
import type { RestorePorts } from './ports.js';

export interface RestorePortsFromConfig {
  config: ConductorConfig;
  /** Resolve a system path under `--root` (`Loaded.path`), for saltApi.passwordFile / caFile. */
  path: (systemPath: string) => string;
  logger?: Logger;
}

export async function restorePortsFromConfig(
  o: RestorePortsFromConfig,
): Promise<Pick<RestorePorts, 'services' | 'saltApiPing' | 'logger'>> {
  const svc = (name: string) =>
    commandServiceControl({
      name,
      unit: o.config.services[name]?.unit ?? name,
      commands: o.config.services[name] ?? {},
    });
  const services = [svc('128T'), ...(o.config.restore.stopSaltMaster ? [svc('salt-master')] : [])];
  const { saltApiConfigured, saltApiClientFromConfig } = await import('../saltapi/from-config.js');
  const saltApiPing = saltApiConfigured(o.config)
    ? async (): Promise<void> => {
        const client = await saltApiClientFromConfig(o.config, {
          path: o.path,
          ...(o.logger ? { logger: o.logger } : {}),
        });
        try {
          await client.token();
        } finally {
          await client.close().catch(() => undefined);
        }
      }
    : undefined;
  return { services, saltApiPing, ...(o.logger ? { logger: o.logger } : {}) };
}
