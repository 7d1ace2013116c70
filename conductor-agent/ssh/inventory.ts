/**
 * The direct-SSH inventory (`reauth.inventoryFile`, YAML or JSON): a list (or `{routers: [...]}`) of
 * `{minion, host?, port?, user?, keyFile?, passwordFile?, sudo?, hostKeys?, configDir?, pkiDir?,
 * serviceCommand?, unit?}`. An entry without `host` only sets how to log in and where the minion
 * lives for that router's tunnel route. Every value is validated here, because each one ends up in
 * a command template run on the router.
 */
import { parse } from 'yaml';
import { z } from 'zod';
import { SshError } from '../../shared/errors.js';

const absPath = z
  .string()
  .regex(/^\/[A-Za-z0-9._/@+-]*$/, 'an absolute path of letters, digits and ._/@+-')
  .refine((p) => !p.split('/').includes('..'), 'no ".." segments');
const fingerprint = z
  .string()
  .regex(/^SHA256:[A-Za-z0-9+/]{43}=?$/, 'a SHA256:… host key fingerprint (ssh-keygen -lf)');

export const inventoryEntry = z
  .object({
    minion: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,252}$/, 'a minion id'),
    host: z
      .string()
      .regex(/^[A-Za-z0-9.:-]{1,253}$/, 'a host name or address')
      .optional(),
    port: z.number().int().min(1).max(65535).default(22),
    user: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9._-]{0,31}$/, 'a user name')
      .optional(),
    keyFile: absPath.optional(),
    passwordFile: absPath.optional(),
    sudo: z.boolean().optional(),
    hostKeys: z.array(fingerprint).default([]),
    configDir: absPath.default('/etc/salt'),
    pkiDir: absPath.default('/etc/salt/pki/minion'),
    serviceCommand: absPath.default('/usr/bin/systemctl'),
    unit: z
      .string()
      .regex(/^[A-Za-z0-9@._-]{1,128}$/, 'a systemd unit name')
      .default('salt-minion'),
  })
  .strict();

export type InventoryEntry = z.infer<typeof inventoryEntry>;

/** Parse and validate (pure); every problem is listed at once. */
export function parseInventory(text: string, where = 'inventory'): InventoryEntry[] {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new SshError('FLEET_INVENTORY_INVALID', `${where} is not YAML/JSON: ${(err as Error).message}`, {
      cause: err,
      details: { file: where },
    });
  }
  const list = Array.isArray(doc) ? doc : (doc as { routers?: unknown } | null)?.routers;
  const r = z.array(inventoryEntry).safeParse(list ?? []);
  if (!r.success) {
    const problems = r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new SshError('FLEET_INVENTORY_INVALID', `${where}: ${problems.join('; ')}`, {
      details: { file: where, problems },
      hint: 'Each entry needs at least `minion`; see docs/fleet.md for the keys.',
    });
  }
  const seen = new Set<string>();
  for (const e of r.data) {
    const k = `${e.minion} ${e.host ?? ''}`;
    if (seen.has(k))
      throw new SshError('FLEET_INVENTORY_INVALID', `${where}: ${e.minion} is listed twice for the same host`);
    seen.add(k);
  }
  return r.data;
}

/** Defaults for routes the inventory says nothing about (from `reauth.*`). */
export function defaultEntry(
  minion: string,
  o: { user: string; keyFile?: string | undefined; passwordFile?: string | undefined; sudo: boolean },
): InventoryEntry {
  return inventoryEntry.parse({ minion, user: o.user, keyFile: o.keyFile, passwordFile: o.passwordFile, sudo: o.sudo });
}
