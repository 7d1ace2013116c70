/**
 * Which routers a wave covers: `--all`, or `--routers GLOB…` matched against minion ids with Salt's
 * glob rules for a minion target (`*`, `?`, `[…]`; reference/salt.md targeting), case-sensitive.
 */
import { UsageError } from '../../shared/errors.js';

/** `ids`: exactly these routers (the automatic trigger). */
export type Selection = { all: true } | { all?: false; globs: string[] } | { all?: false; ids: string[] };

/** One glob → an anchored RegExp (no other metacharacters). */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        const body = glob.slice(i + 1, end).replace(/\\/g, '\\\\');
        re += `[${body.startsWith('!') ? `^${body.slice(1)}` : body}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** Validate the flags into a selection. */
export function parseSelection(o: { all?: boolean; routers?: string[] }): Selection {
  const globs = (o.routers ?? [])
    .flatMap((g) => g.split(','))
    .map((g) => g.trim())
    .filter(Boolean);
  if (o.all && globs.length) throw new UsageError('give either --all or --routers, not both');
  if (o.all) return { all: true };
  if (globs.length === 0) throw new UsageError('name the routers: --all, --routers GLOB… or --router ID');
  for (const g of globs) {
    if (g.length > 256 || /[\0\n/]/.test(g))
      throw new UsageError(`--routers: not a minion id glob: ${JSON.stringify(g)}`);
  }
  return { globs };
}

/** A matcher for a selection. */
export function selector(sel: Selection): (id: string) => boolean {
  if (sel.all) return () => true;
  if ('ids' in sel) {
    const ids = new Set(sel.ids);
    return (id) => ids.has(id);
  }
  const res = sel.globs.map(globToRegExp);
  return (id) => res.some((r) => r.test(id));
}
