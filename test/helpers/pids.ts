import { spawnSync } from 'node:child_process';

/** The pid of a process that has already exited (what a killed run leaves in its lock or temp names). */
export const deadPid = (): number => spawnSync(process.execPath, ['-e', '0']).pid!;
