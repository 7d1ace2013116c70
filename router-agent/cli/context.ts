/**
 * Per-command context for router-agent: global options, the router configuration (root prefix
 * applied) and a logger. Imported lazily by each command so `--version` stays fast.
 */
import type { Command } from 'commander';
import type { CliIo, GlobalOptions } from '../../shared/cli/io.js';
import type { Loaded } from '../../shared/config/load.js';
import { loadRouterConfig } from '../config.js';
import type { RouterConfig } from '../../shared/config/schema.js';
import { createLogger, isLogLevel, type Logger, type LogLevel } from '../../shared/log/logger.js';
import { UsageError } from '../../shared/errors.js';

export interface RouterCommandContext {
  io: CliIo;
  opts: GlobalOptions;
  loaded: Loaded<RouterConfig>;
  config: RouterConfig;
  logger: Logger;
}

export async function routerContext(
  cmd: Command,
  io: CliIo,
  defaultLevel: LogLevel | 'config' = 'warn',
  overrides: Record<string, unknown> = {},
): Promise<RouterCommandContext> {
  const o = cmd.optsWithGlobals() as Partial<GlobalOptions>;
  const opts: GlobalOptions = { json: Boolean(o.json), root: o.root ?? '/', config: o.config, logLevel: o.logLevel };
  if (opts.logLevel !== undefined && !isLogLevel(opts.logLevel))
    throw new UsageError(`--log-level must be one of debug, info, warn, error, silent (got ${opts.logLevel})`);
  const loaded = await loadRouterConfig({ root: opts.root, configFile: opts.config, env: io.env, overrides });
  const level =
    (opts.logLevel as LogLevel | undefined) ?? (defaultLevel === 'config' ? loaded.config.log.level : defaultLevel);
  const logger = createLogger({ level, write: io.stderr, bindings: { agent: 'router-agent' } });
  for (const w of loaded.warnings) logger.warn(`config: ${w}`, { file: loaded.file });
  return { io, opts, loaded, config: loaded.config, logger };
}
