/**
 * The one shape every key command uses to describe what it will do (`--dry-run`) and what it did
 * (reports). Secrets never appear here: paths, option names and fingerprints only.
 */

export type ChangeAction =
  | 'create-key-pair'
  | 'write-public-key'
  | 'write-signature'
  | 'edit-config'
  | 'backup'
  | 'export'
  | 'replace-key-pair'
  | 'restart-service'
  | 'accept-key';

export interface PlannedChange {
  action: ChangeAction;
  /** The file (or service name) the change touches. */
  target: string;
  /** One line for humans: what and why. */
  detail: string;
}

/** Human listing of changes, one per line. */
export function renderChanges(changes: readonly PlannedChange[], dryRun: boolean): string {
  if (changes.length === 0) return 'Nothing to change.\n';
  const head = dryRun ? 'Would change (dry run, nothing written):' : 'Changed:';
  return (
    [head, ...changes.map((c) => `  ${c.action.padEnd(16)} ${c.target}\n${' '.repeat(19)}${c.detail}`)].join('\n') +
    '\n'
  );
}
