/**
 * Read-only views of the Salt master pki folder (`salt.pkiDir`): the master's own key files and the
 * minion keys by status (`minions`, `minions_pre`, `minions_rejected`, `minions_denied`, reference §2).
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { MASTER_PKI } from '../../shared/ssr/layout.js';
import { KeysError } from '../../shared/errors.js';

export type MinionKeyStatus = 'accepted' | 'pending' | 'rejected' | 'denied';

/** Folder per status, as Salt names them. */
export const STATUS_DIRS: Record<MinionKeyStatus, string> = {
  accepted: MASTER_PKI.accepted,
  pending: MASTER_PKI.pending,
  rejected: MASTER_PKI.rejected,
  denied: MASTER_PKI.denied,
};

export type MinionKeyLists = Record<MinionKeyStatus, string[]>;

/** Salt skips dotfiles and temp files when listing keys (`salt.key.Key.list_keys`). */
function isKeyName(name: string): boolean {
  return !name.startsWith('.') && !name.endsWith('.tmp');
}

/** Minion ids per status (all, or only `statuses`), sorted. A missing status folder is an empty list. */
export async function listMinionKeys(
  pkiDir: string,
  statuses: readonly MinionKeyStatus[] = Object.keys(STATUS_DIRS) as MinionKeyStatus[],
): Promise<MinionKeyLists> {
  const out = { accepted: [], pending: [], rejected: [], denied: [] } as MinionKeyLists;
  for (const status of statuses) {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await fsp.readdir(join(pkiDir, STATUS_DIRS[status]), { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new KeysError(
        'KEYS_INVALID',
        `cannot list ${join(pkiDir, STATUS_DIRS[status])}: ${(err as Error).message}`,
        { cause: err },
      );
    }
    out[status] = entries
      .filter((e) => e.isFile() && isKeyName(e.name))
      .map((e) => e.name)
      .sort();
  }
  return out;
}

/** Path of a minion key file. Ids are file names: anything with a path separator is refused. */
export function minionKeyPath(pkiDir: string, status: MinionKeyStatus, id: string): string {
  if (id === '' || id === '.' || id === '..' || id.includes('/') || id.includes('\0')) {
    throw new KeysError('KEYS_INVALID', `not a valid minion id: ${JSON.stringify(id)}`);
  }
  return join(pkiDir, STATUS_DIRS[status], id);
}

/** Read a text file, or undefined when it does not exist. */
export async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await fsp.readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new KeysError('KEYS_INVALID', `cannot read ${path}: ${(err as Error).message}`, {
      cause: err,
      details: { path },
    });
  }
}

/** The master's own key files in `pkiDir`, as text (undefined = missing). */
export interface MasterKeyFiles {
  masterPem: string | undefined;
  masterPub: string | undefined;
  signPem: string | undefined;
  signPub: string | undefined;
  signature: string | undefined;
}

/** Paths of the master's key files for a sign key name and signature file name. */
export function masterKeyPaths(
  pkiDir: string,
  signKeyName: string,
  signatureFile: string,
): Record<keyof MasterKeyFiles, string> {
  return {
    masterPem: join(pkiDir, MASTER_PKI.privateKey),
    masterPub: join(pkiDir, MASTER_PKI.publicKey),
    signPem: join(pkiDir, `${signKeyName}.pem`),
    signPub: join(pkiDir, `${signKeyName}.pub`),
    // Salt joins pki_dir with the option, so an absolute value wins (os.path.join semantics).
    signature: signatureFile.startsWith('/') ? signatureFile : join(pkiDir, signatureFile),
  };
}

/** Read every master key file that exists. */
export async function readMasterKeyFiles(paths: Record<keyof MasterKeyFiles, string>): Promise<MasterKeyFiles> {
  const [masterPem, masterPub, signPem, signPub, signature] = await Promise.all(
    [paths.masterPem, paths.masterPub, paths.signPem, paths.signPub, paths.signature].map(readOptional),
  );
  return { masterPem, masterPub, signPem, signPub, signature };
}
