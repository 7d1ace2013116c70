/**
 * Per-command context: global options, the loaded configuration (root prefix applied) and a logger.
 * Built lazily inside each action so `--help` never reads config; the config loader itself (zod +
 * yaml, the bulk of start-up) is imported by {@link prepareCommandContext}, which `main.ts` runs as a
 * pre-action hook, so `--help`, `--version` and usage errors never load it.
 */
import type { Command } from 'commander';
import type { CliIo, GlobalOptions } from '../../shared/cli/io.js';
import type { loadConfig as LoadConfig, Loaded } from '../../shared/config/load.js';
import type { ConductorConfig } from '../../shared/config/schema.js';
import { createLogger, isLogLevel, type Logger, type LogLevel } from '../../shared/log/logger.js';
import { UsageError } from '../../shared/errors.js';

export interface CommandContext {
  io: CliIo;
  opts: GlobalOptions;
  loaded: Loaded<ConductorConfig>;
  config: ConductorConfig;
  logger: Logger;
}

export interface ContextOptions {
  /** Dotted config keys set by this command's flags. */
  overrides?: Record<string, unknown>;
  /** Default log level when --log-level is not given (daemons log at the configured level). */
  defaultLogLevel?: LogLevel | 'config';
}

let loadConfig: typeof LoadConfig | undefined;

/** Import the config loader once; runs before every command action (commander `preAction` hook). */
export async function prepareCommandContext(): Promise<void> {
  loadConfig ??= (await import('../../shared/config/load.js')).loadConfig;
}

/** Global options as seen from any (sub)command. */
export function globalOptions(cmd: Command): GlobalOptions {
  const o = cmd.optsWithGlobals() as Partial<GlobalOptions>;
  return { json: Boolean(o.json), root: o.root ?? '/', config: o.config, logLevel: o.logLevel };
}

export function commandContext(cmd: Command, io: CliIo, options: ContextOptions = {}): CommandContext {
  const opts = globalOptions(cmd);
  if (opts.logLevel !== undefined && !isLogLevel(opts.logLevel)) {
    throw new UsageError(`--log-level must be one of debug, info, warn, error, silent (got ${opts.logLevel})`);
  }
  if (!loadConfig) throw new Error('internal: commandContext before prepareCommandContext (main.ts preAction hook)');
  const loaded = loadConfig({
    agent: 'conductor-agent',
    root: opts.root,
    configFile: opts.config,
    env: io.env,
    overrides: options.overrides ?? {},
  });
  const fallback = options.defaultLogLevel ?? 'warn';
  const level = (opts.logLevel as LogLevel | undefined) ?? (fallback === 'config' ? loaded.config.log.level : fallback);
  const logger = createLogger({ level, write: io.stderr, bindings: { agent: 'conductor-agent' } });
  for (const w of loaded.warnings) logger.warn(`config: ${w}`, { file: loaded.file });
  return { io, opts, loaded, config: loaded.config, logger };
}
