import type { Command } from 'commander';

/** Add the options every command takes (DESIGN.md operator interface). */
export function addGlobalOptions(program: Command): Command {
  return program
    .option('--json', 'print one JSON document on stdout instead of text', false)
    .option('--root <dir>', 'prefix for every system path (rehearsals, tests)', '/')
    .option('--config <file>', 'configuration file (default <root>/etc/ssr-recovery/<agent>.yaml)')
    .option('--log-level <level>', 'debug | info | warn | error | silent (logs go to stderr)');
}
