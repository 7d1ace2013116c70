/**
 * The CLI reference (docs/cli.md), generated from the commander programs of both bins: every
 * command's own `--help`, so the reference cannot drift from what the CLI accepts.
 * `npm run docs:cli` writes it; a test checks the committed file is in step.
 */
import type { Command } from 'commander';
import { buildProgram as conductorProgram } from '../conductor-agent/cli/main.js';
import { buildProgram as routerProgram } from '../router-agent/cli/main.js';
import type { CliIo } from '../shared/cli/io.js';

const silentIo = { stdout: () => undefined, stderr: () => undefined } as unknown as CliIo;

function walk(cmd: Command, path: string[], out: string[]): void {
  const name = [...path, cmd.name()].join(' ');
  // A fixed width keeps the text the same whatever terminal runs the generator.
  cmd.configureOutput({ getOutHelpWidth: () => 100, getErrHelpWidth: () => 100 });
  out.push(`### \`${name}\`\n\n\`\`\`text\n${cmd.helpInformation().trimEnd()}\n\`\`\`\n`);
  for (const sub of cmd.commands) {
    if (sub.name() === 'help') continue;
    walk(sub, [...path, cmd.name()], out);
  }
}

export function renderCliDoc(): string {
  const out = [
    '# CLI reference',
    '',
    'Generated from the commander programs by `npm run docs:cli` (a test keeps it in step). Every command',
    'also takes the global options shown at the top of each program; exit codes are in README.md and',
    'error codes in [errors.md](errors.md).',
    '',
  ];
  for (const [title, program] of [
    ['conductor-agent', conductorProgram(silentIo)],
    ['router-agent', routerProgram(silentIo)],
  ] as const) {
    out.push(`## ${title}\n`);
    walk(program, [], out);
  }
  return out.join('\n');
}
