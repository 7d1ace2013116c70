/**
 * The re-authentication steps as one script over one exec channel (each exec channel costs the
 * router a session and a shell: ~15 of them per router made the fallback slower than parallel-ssh).
 * The script is put together only from the fixed step commands of steps.ts (validated values,
 * single-quoted) and fixed glue; it runs under `sh -c` with the whole text single-quoted (the
 * templates hold no other quote). After each step it prints a marker line `@@ssr-recovery <step>
 * <exit>` with the step's output (stdout and stderr) before it, so the conductor still judges each
 * step itself: exit codes, the minion key read for the gate, and, in the confirm loop, the cached
 * master key (its fingerprint computed here, not on the router) and whether the minion is up.
 * Only `writePin` reads stdin (the drop-in's content); every other command reads /dev/null.
 */

export const MARKER = '@@ssr-recovery';

export interface ScriptOptions {
  pollMs: number;
  /** Upper bound for each wait loop, so the script ends by itself even if the channel is not closed. */
  maxPolls: number;
}

/** Single-quote a whole script for `sh -c` (a `'` becomes `'\''`). */
export function shQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** The script for `cmds` (from stepCommands). Fails steps end it; the conductor closes it once confirmed. */
export function stepScript(cmds: Record<string, string>, o: ScriptOptions): string {
  const sleep = (o.pollMs / 1000).toFixed(3);
  const n = Math.max(1, Math.ceil(o.maxPolls));
  const step = (name: string, redirect = '</dev/null'): string =>
    `${cmds[name]} ${redirect} 2>&1; r=$?; m ${name} $r; [ $r = 0 ] || exit 0`;
  return [
    `m() { printf '\\n${MARKER} %s %s\\n' "$1" "$2"; }`,
    `${cmds.readMinionKey} </dev/null 2>&1; m readMinionKey $?`,
    step('stop'),
    `i=0; while ${cmds.isActive} </dev/null; do i=$((i+1)); [ $i -lt ${n} ] || { m stopped 124; exit 0; }; sleep ${sleep}; done`,
    'm stopped 0',
    step('makeDropInDir'),
    step('writePin', '>/dev/null'),
    step('placePin'),
    `if ${cmds.hasCached} </dev/null; then ${step('moveStale')}; fi`,
    step('start'),
    'i=0',
    'while :; do',
    `  ${cmds.isActive} </dev/null; m active $?`,
    `  ${cmds.readCached} </dev/null 2>/dev/null; m cached $?`,
    `  i=$((i+1)); [ $i -lt ${n} ] || exit 0`,
    `  sleep ${sleep}`,
    'done',
    '',
  ].join('\n');
}

export interface StepEvent {
  name: string;
  code: number;
  /** What the step printed (stdout + stderr), capped. */
  output: string;
}

const CAP = 64 * 1024;
const MARKER_LINE = new RegExp(`\\n${MARKER} ([A-Za-z]{1,32}) (\\d{1,3})\\n`);

/** Splits the script's stdout into step events as it arrives. */
export class StepParser {
  #buf = '';

  /** Feed a chunk; returns the steps completed by it. */
  push(chunk: string): StepEvent[] {
    this.#buf += chunk;
    const out: StepEvent[] = [];
    for (;;) {
      const m = MARKER_LINE.exec(this.#buf);
      if (!m) break;
      out.push({ name: m[1]!, code: Number(m[2]), output: this.#buf.slice(0, m.index).slice(-CAP) });
      this.#buf = this.#buf.slice(m.index + m[0].length);
    }
    if (this.#buf.length > 2 * CAP) this.#buf = this.#buf.slice(-CAP);
    return out;
  }
}
