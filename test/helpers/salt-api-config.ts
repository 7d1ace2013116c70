/**
 * The conductor-agent configuration the Salt-sandbox tests write: salt-api through the emulator's
 * shared-secret login, and for the key commands the master restarted through its control socket.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { fixtureCommandLine } from '../../sandbox/salt/entry.js';
import type { MasterControl } from '../../sandbox/salt/master-control.js';

/** The `saltApi` section for an emulator (the password file is where the sandbox writes it). */
export function saltApiSection(salt: { url: string; username: string }): Record<string, string> {
  return {
    url: salt.url,
    eauth: 'sharedsecret',
    username: salt.username,
    passwordFile: '/etc/ssr-recovery/salt-api.secret',
  };
}

/** Write `etc/ssr-recovery/conductor-agent.yaml` for `keys` commands against the sandbox master. */
export async function writeKeysConfig(
  root: string,
  salt: { url: string; username: string },
  ctl: MasterControl,
): Promise<void> {
  await mkdir(join(root, 'etc/ssr-recovery'), { recursive: true });
  await writeFile(
    join(root, 'etc/ssr-recovery/conductor-agent.yaml'),
    stringify({
      saltApi: saltApiSection(salt),
      services: {
        'salt-master': { restart: fixtureCommandLine('master-ctl', ['restart', '--control', ctl.address]) },
      },
      keys: { waitSeconds: 20 },
    }),
  );
}
