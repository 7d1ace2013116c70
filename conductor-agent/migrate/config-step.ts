/**
 * Step 2, configuration: export the running config on the old conductor, move the export to the new
 * one (read back and compared), import it, set `authority conductor-address` to the new address(es),
 * validate, commit. Each finished stage is journaled, so a resumed run continues where it stopped; a
 * refused validate or commit drops the candidate again, so the new conductor is left as it was.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RecoveryError } from '../../shared/errors.js';
import type { MigrateDeps } from './deps.js';
import type { Journal, JournalState } from './journal.js';

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

export async function configStep(
  d: MigrateDeps,
  state: JournalState,
  journal: Journal,
  exportName: string,
): Promise<{ exportFile: string }> {
  const file = exportName.endsWith('.gz') ? exportName : `${exportName}.gz`;
  if (state.runPhases.has('config-committed')) return { exportFile: file };
  if (!state.runPhases.has('config-exported')) {
    d.onStep?.(`exporting the running configuration on the old conductor as ${file}`);
    await d.oldSsr.exportConfig(exportName);
    await journal.run('config-exported', { file });
  }
  if (!state.runPhases.has('config-transferred')) {
    const bytes = await readExport(join(d.paths.oldExportsDir, file));
    const target = `${d.paths.newExportsDir.replace(/\/+$/, '')}/${file}`;
    d.onStep?.(`copying ${file} to ${d.files.where}${target}`);
    await d.files.write(target, bytes, 0o600);
    const back = await d.files.read(target);
    if (!back || sha256(back) !== sha256(bytes)) {
      throw new RecoveryError('MIGRATE_FAILED', `the copy of ${file} on the new conductor does not match the export`, {
        details: { target, expected: sha256(bytes), actual: back ? sha256(back) : null },
      });
    }
    await journal.run('config-transferred', { file, sha256: sha256(bytes) });
  }
  // Import again even when a killed or refused run got this far: a refused commit drops the candidate,
  // and importing overwrites it, so this is the one way to know what is about to be committed.
  d.onStep?.(`importing ${file} on the new conductor with conductor-address ${d.args.to.join(' ')}`);
  await d.newSsr.importConfig(file);
  await d.newSsr.setConductorAddresses(d.args.to);
  await journal.run('config-imported', { file, conductorAddress: d.args.to });
  await validateAndCommit(d);
  await journal.run('config-committed', { file });
  return { exportFile: file };
}

async function validateAndCommit(d: MigrateDeps): Promise<void> {
  const messages = await d.newSsr.validate();
  if (messages.length > 0) {
    await d.newSsr.revertCandidate().catch(() => undefined);
    throw new RecoveryError('SSR_COMMIT_FAILED', 'the new conductor refused the imported configuration at validate', {
      details: { messages },
      hint: "Fix the listed problems on the old conductor's configuration, then migrate again.",
    });
  }
  d.onStep?.('committing on the new conductor');
  try {
    await d.newSsr.commit();
  } catch (err) {
    await d.newSsr.revertCandidate().catch(() => undefined);
    throw err;
  }
}

async function readExport(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    const why = (err as Error).message;
    throw new RecoveryError('MIGRATE_FAILED', `the old conductor wrote no export at ${path}: ${why}`, {
      cause: err,
      details: { path },
      hint:
        'The export lands in /etc/128technology/config-exports on the conductor the agent runs on; ' +
        'run migrate on the old conductor.',
    });
  }
}
