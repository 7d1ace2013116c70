/**
 * Child process for the kill -9 tests: runs a real restore and, at the point named by KILL_AT (a
 * journal phase, or `apply:<n>` after the n-th file is moved into place), prints READY and hangs
 * until the parent kills it with SIGKILL.
 */
import { restoreConductor } from '../../conductor-agent/restore/index.js';
import { numericOwnerIds } from '../../conductor-agent/restore/owner-ids.js';
import { commandServiceControl } from '../../shared/ports/service-control.js';
import { testConfig } from './restore-support.js';

const env = (k: string): string => process.env[k] ?? '';
const [ROOT, ARCHIVE, KILL_AT, SVC_FLAG] = ['ROOT', 'ARCHIVE', 'KILL_AT', 'SVC_FLAG'].map(env) as [
  string,
  string,
  string,
  string,
];
const hang = async (): Promise<void> => {
  process.stdout.write('READY\n');
  await new Promise(() => setInterval(() => undefined, 1000));
};
const service = commandServiceControl({
  name: '128T',
  unit: '128T',
  commands: { start: `touch ${SVC_FLAG}`, stop: `rm -f ${SVC_FLAG}`, isActive: `test -e ${SVC_FLAG}` },
});
await restoreConductor({
  archive: ARCHIVE,
  root: ROOT,
  config: testConfig(),
  // TRUSTED: comma-separated signer fingerprints for a target without the old identity (rebuilt).
  trustedSigners: env('TRUSTED') ? new Set(env('TRUSTED').split(',')) : undefined,
  ports: {
    services: [service],
    owners: numericOwnerIds,
    flush: async () => undefined,
    hooks: {
      afterPhase: async (p) => {
        if (p === KILL_AT) await hang();
      },
      onApplied: async (_p, i) => {
        if (KILL_AT === `apply:${i}`) await hang();
      },
    },
  },
});
process.stdout.write('DONE\n');
