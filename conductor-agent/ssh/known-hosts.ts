/**
 * Pinned SSH host keys from an OpenSSH `known_hosts` file: plain (`host,[host]:port`) and hashed
 * (`|1|salt|hmac`) host fields, `@revoked` lines honoured, `@cert-authority` lines ignored (a CA is
 * not a pin). The result is the `SHA256:…` fingerprints a host may present.
 */
import { createHash, createHmac } from 'node:crypto';

export interface KnownHostLine {
  hosts: string[];
  /** `|1|salt|hash` entries. */
  hashed: { salt: Buffer; hash: Buffer }[];
  fingerprint: string;
  revoked: boolean;
}

/** SHA256 fingerprint of a base64 key blob, as `ssh-keygen -lf` prints it. */
export function blobFingerprint(base64: string): string {
  return `SHA256:${createHash('sha256').update(Buffer.from(base64, 'base64')).digest('base64').replace(/=+$/, '')}`;
}

/** Parse (pure); malformed lines are skipped, as OpenSSH does. */
export function parseKnownHosts(text: string): KnownHostLine[] {
  const out: KnownHostLine[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const parts = line.split(/\s+/);
    let revoked = false;
    if (parts[0]?.startsWith('@')) {
      const marker = parts.shift();
      if (marker === '@cert-authority') continue;
      revoked = marker === '@revoked';
    }
    const [hostField, , blob] = parts;
    if (!hostField || !blob || !/^[A-Za-z0-9+/=]+$/.test(blob)) continue;
    const hosts: string[] = [];
    const hashed: KnownHostLine['hashed'] = [];
    for (const h of hostField.split(',')) {
      const m = /^\|1\|([^|]+)\|([^|]+)$/.exec(h);
      if (m) hashed.push({ salt: Buffer.from(m[1]!, 'base64'), hash: Buffer.from(m[2]!, 'base64') });
      else hosts.push(h.toLowerCase());
    }
    out.push({ hosts, hashed, fingerprint: blobFingerprint(blob), revoked });
  }
  return out;
}

/** The name OpenSSH looks up: `host` on port 22, else `[host]:port`. */
export function knownHostName(host: string, port: number): string {
  return port === 22 ? host.toLowerCase() : `[${host.toLowerCase()}]:${port}`;
}

/** Fingerprints pinned for `host:port` (revoked ones removed). */
export function pinsFor(lines: readonly KnownHostLine[], host: string, port: number): string[] {
  const name = knownHostName(host, port);
  const match = (l: KnownHostLine): boolean =>
    l.hosts.includes(name) || l.hashed.some((h) => createHmac('sha1', h.salt).update(name).digest().equals(h.hash));
  const hits = lines.filter(match);
  const revoked = new Set(hits.filter((l) => l.revoked).map((l) => l.fingerprint));
  return [...new Set(hits.filter((l) => !l.revoked && !revoked.has(l.fingerprint)).map((l) => l.fingerprint))];
}
