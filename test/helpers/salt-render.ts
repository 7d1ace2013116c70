/**
 * The formula rendered as Salt renders it (test/fixtures/salt-render/render.py: Debian's
 * python3-jinja2 in Salt's jinja set-up; test/salt/install.test.ts compares it with real Salt), and
 * every `conductor-agent` / `router-agent` command line found in the result, split as Salt's
 * cmd.run(python_shell=False) splits it, and parsed by the real commander programs without running.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Command, CommanderError } from 'commander';
import { parse as parseYaml } from 'yaml';
import type { CliIo } from '../../shared/cli/io.js';

export const formulaRoot = fileURLToPath(new URL('../../salt-states/', import.meta.url));
const renderer = fileURLToPath(new URL('../fixtures/salt-render/render.py', import.meta.url));

export interface RenderJob {
  path: string;
  pillar?: unknown;
  grains?: Record<string, unknown>;
  context?: Record<string, unknown>;
}
export type Rendered =
  | { path: string; text: string; error?: undefined }
  | { path: string; error: string; text?: undefined };

function python(input: unknown): unknown {
  const r = spawnSync('python3', [renderer], { input: JSON.stringify(input), encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`render.py failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout);
}

export function render(jobs: RenderJob[]): Rendered[] {
  return python({ root: formulaRoot, jobs }) as Rendered[];
}

/** Split command lines as Salt does for python_shell=False (shlex.split). */
export function shlexSplit(lines: string[]): string[][] {
  return lines.length ? (python({ split: lines }) as string[][]) : [];
}

export function allSls(): string[] {
  const walk = (d: string): string[] =>
    readdirSync(d).flatMap((f) => (statSync(join(d, f)).isDirectory() ? walk(join(d, f)) : [join(d, f)]));
  return walk(formulaRoot)
    .filter((f) => f.endsWith('.sls'))
    .map((f) => relative(formulaRoot, f))
    .sort();
}

export const parseSls = (text: string): unknown => parseYaml(text) ?? {};

/** Every string value in a parsed document, with the state id it sits under. */
export function strings(doc: unknown, at = ''): { at: string; value: string }[] {
  if (typeof doc === 'string') return [{ at, value: doc }];
  if (Array.isArray(doc)) return doc.flatMap((d) => strings(d, at));
  if (doc && typeof doc === 'object') {
    return Object.entries(doc).flatMap(([k, v]) => strings(v, at || k));
  }
  return [];
}

export type Cli = 'conductor-agent' | 'router-agent';

/** The CLI a command line runs: a wrapper named after it, or node running its bundle. */
export function cliOf(argv: string[]): { cli: Cli; args: string[] } | undefined {
  const base = (p: string | undefined) => (p ?? '').split('/').pop() ?? '';
  const first = base(argv[0]);
  if (first === 'conductor-agent' || first === 'router-agent') return { cli: first, args: argv.slice(1) };
  const script = base(argv[1]);
  if (script === 'conductor-agent.js') return { cli: 'conductor-agent', args: argv.slice(2) };
  if (script === 'router-agent.cjs') return { cli: 'router-agent', args: argv.slice(2) };
  return undefined;
}

const quietIo: CliIo = { stdout: () => {}, stderr: () => {}, env: {}, isTTY: false };

export interface Parsed {
  /** The subcommand path, e.g. ['keys', 'accept']. */
  command: string[];
  opts: Record<string, unknown>;
}

/**
 * Parse `args` with the real program, every action replaced by a recorder (nothing runs). Throws
 * commander's error (unknown option, missing value, unknown command) as an Error with its message.
 */
export async function parseWithRealCli(cli: Cli, args: string[]): Promise<Parsed> {
  const { buildProgram } =
    cli === 'conductor-agent'
      ? await import('../../conductor-agent/cli/main.js')
      : await import('../../router-agent/cli/main.js');
  const program = buildProgram(quietIo);
  let parsed: Parsed | undefined;
  const arm = (cmd: Command, path: string[]): void => {
    cmd.exitOverride();
    cmd.configureOutput({ writeOut: () => {}, writeErr: () => {} });
    if (cmd.commands.length === 0) {
      cmd.action((...a: unknown[]) => {
        const self = a[a.length - 1] as Command;
        parsed = { command: path, opts: self.optsWithGlobals() };
      });
    }
    for (const sub of cmd.commands) arm(sub, [...path, sub.name()]);
  };
  for (const sub of program.commands) arm(sub, [sub.name()]);
  program.exitOverride();
  program.configureOutput({ writeOut: () => {}, writeErr: () => {} });
  try {
    await program.parseAsync(args, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) throw new Error(`${cli} ${args.join(' ')}: ${err.message}`);
    throw err;
  }
  if (!parsed) throw new Error(`${cli} ${args.join(' ')}: no command ran (a command group without a subcommand?)`);
  return parsed;
}
