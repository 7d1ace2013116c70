/** The migrate tests' two conductors: the sandbox's conductor pair on this package's loopback block. */
import { startConductorPair, type ConductorPair, type ConductorPairOptions } from '../../sandbox/ssr-simulator/pair.js';

export const OLD_ADDR = '127.8.0.2';
export const NEW_ADDR = '127.8.0.3';
export const NEW_ADDR_2 = '127.8.0.4';

export type MigrateWorld = ConductorPair;

export function makeMigrateWorld(o: Omit<ConductorPairOptions, 'addresses'>): Promise<MigrateWorld> {
  return startConductorPair({ ...o, addresses: { old: OLD_ADDR, new: NEW_ADDR, new2: NEW_ADDR_2 } });
}
