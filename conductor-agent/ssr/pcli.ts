/**
 * The PCLI for what the SSR has no public API for (reference/ssr.md §2.3: no REST/GraphQL `migrate`
 * is known). The command line is a setting (`ssr.pcliCommand`, default `pcli`): how the PCLI takes a
 * command non-interactively is UNCONFIRMED. Words are validated before they reach argv, and never
 * pass through a shell.
 */
import { RecoveryError } from '../../shared/errors.js';
import { splitCommandLine, type ProcessRunner } from '../../shared/ports/process-runner.js';
import { CONDUCTOR_ADDRESS, ROUTER_NAME, type MigrateRouterOptions } from './conductor.js';

/** Only keywords, router names and addresses: safe as argv items and as one joined line. */
const PCLI_WORD = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;

/**
 * Build argv from the template: a `{line}` word becomes the PCLI line as one argument, a `{words}` word
 * becomes the words as separate arguments; with neither, the words are appended.
 */
export function pcliArgv(template: string, words: readonly string[]): string[] {
  for (const w of words) {
    if (!PCLI_WORD.test(w)) throw new RecoveryError('USAGE', `refusing PCLI word ${JSON.stringify(w)}`);
  }
  const base = splitCommandLine(template);
  if (base.length === 0) throw new RecoveryError('CONFIG_INVALID', 'ssr.pcliCommand is empty');
  if (base.includes('{line}')) return base.map((w) => (w === '{line}' ? words.join(' ') : w));
  if (base.includes('{words}')) return base.flatMap((w) => (w === '{words}' ? [...words] : [w]));
  return [...base, ...words];
}

/** The words of `migrate [skip-validation] [force] conductor <a1> [<a2>] router <r>` (reference/ssr.md §2.1). */
export function migrateWords(router: string, addresses: readonly string[], o: MigrateRouterOptions = {}): string[] {
  if (!ROUTER_NAME.test(router)) throw new RecoveryError('USAGE', `not a router name: ${JSON.stringify(router)}`);
  if (addresses.length < 1 || addresses.length > 2) {
    throw new RecoveryError('USAGE', `migrate takes one or two conductor addresses, got ${addresses.length}`);
  }
  for (const a of addresses) {
    if (!CONDUCTOR_ADDRESS.test(a)) throw new RecoveryError('USAGE', `not a conductor address: ${JSON.stringify(a)}`);
  }
  return [
    'migrate',
    ...(o.skipValidation ? ['skip-validation'] : []),
    ...(o.force ? ['force'] : []),
    'conductor',
    ...addresses,
    'router',
    router,
  ];
}

export interface PcliOptions {
  template: string;
  runner: ProcessRunner;
  timeoutMs?: number;
}

/** Run one PCLI command; SSR_MIGRATE_FAILED-style errors carry the PCLI's own output as evidence. */
export async function runPcli(o: PcliOptions, words: readonly string[]): Promise<string> {
  const argv = pcliArgv(o.template, words);
  const r = await o.runner.run(argv, { timeoutMs: o.timeoutMs ?? 120_000 });
  if (r.code !== 0) {
    const output = (r.stdout + r.stderr).trim().slice(-2000);
    throw new RecoveryError('SSR_PCLI_FAILED', `PCLI \`${words.join(' ')}\` failed (exit ${r.code ?? r.signal})`, {
      details: { words: [...words], exit: r.code, signal: r.signal, output },
      hint: 'The PCLI output is in details.output; check ssr.pcliCommand if the command itself did not run.',
    });
  }
  return r.stdout;
}
