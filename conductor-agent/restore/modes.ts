/**
 * The modes a restore writes: as recorded (manifest, else tar header), but never looser than the
 * trust model allows for the Salt master pki folder (DESIGN.md rule 6): private keys 0600/0400,
 * folders 0700. A tightened mode is reported as a finding, never silently widened.
 */
import { posix } from 'node:path';
import type { MemberKind } from './types.js';

const PRIVATE_KEY = /\.pem$/;

/** The mode to write for `systemPath` given the recorded `mode` (permission bits only). */
export function safeMode(systemPath: string, kind: MemberKind, mode: number, pkiDir: string): number {
  const pki = pkiDir.replace(/\/+$/, '');
  const inPki = systemPath === pki || systemPath.startsWith(pki + '/');
  if (!inPki) return mode;
  if (kind === 'dir') return mode & 0o700;
  if (kind === 'file' && PRIVATE_KEY.test(posix.basename(systemPath))) return mode & 0o600;
  return mode;
}
