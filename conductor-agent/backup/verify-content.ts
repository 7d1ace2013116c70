/**
 * What `backup verify` checks in the content of the members, so that an archive that verifies is
 * one restore accepts (restore makes the same checks on the staged files, restore/verify-staging.ts):
 * the master key pair is present and is one pair (and matches the manifest's fingerprint), the
 * init files parse, and the datastores are JSON (checked in the JSON worker while they stream, which
 * also hashes them). Only these few members are held or parsed; the rest only stream through.
 */
import type { Allowlist } from '../../shared/backup/file-set.js';
import type { Manifest } from '../../shared/backup/format.js';
import { pemFinger } from '../../shared/salt/fingerprint.js';
import { CONDUCTOR_FILES } from '../../shared/ssr/layout.js';
import { startJsonCheck, type AsyncJsonCheck } from '../restore/json-check-async.js';
import { isKeyPair } from '../restore/verify-staging.js';

/** One content problem: restore's code for it and what to say. */
export interface ContentProblem {
  code: 'KEYS_PAIR_MISMATCH' | 'KEYS_INVALID' | 'ARCHIVE_CORRUPT' | 'ARCHIVE_HASH_MISMATCH';
  reason: string;
  path?: string;
  message: string;
}

const SMALL_LIMIT = 1 << 20;
const DATASTORES: ReadonlySet<string> = new Set([CONDUCTOR_FILES.runningConfig, CONDUCTOR_FILES.userRunning]);
const INIT_FILES: readonly string[] = [CONDUCTOR_FILES.globalInit, CONDUCTOR_FILES.localInit];

export class ContentChecks {
  private readonly small = new Map<string, Buffer>();
  /** Members the rules refused (reported there; not reported again as lacking). */
  private readonly refusedPaths = new Set<string>();
  private readonly json: Promise<ContentProblem | undefined>[] = [];
  private readonly pem: string | undefined;
  private readonly pub: string | undefined;

  constructor(list: Allowlist) {
    const files = [...list.regularFiles];
    this.pem = files.find((p) => p.endsWith('/master.pem'));
    this.pub = files.find((p) => p.endsWith('/master.pub'));
  }

  /** A JSON check for a datastore member (undefined for other members). */
  datastore(path: string, size: number): AsyncJsonCheck | undefined {
    return DATASTORES.has(path) ? startJsonCheck(size) : undefined;
  }

  /** Records the JSON check's outcome; resolves with the datastore's SHA-256 when the check hashed it. */
  checked(path: string, check: AsyncJsonCheck): Promise<string | undefined> {
    const done = check.end();
    this.json.push(
      done.then(({ error }) =>
        error === undefined
          ? undefined
          : {
              code: 'ARCHIVE_CORRUPT',
              reason: 'json',
              path,
              message: `${path} is not valid JSON (${error})`,
            },
      ),
    );
    return done.then(({ sha256 }) => (check.hashes ? sha256 : undefined));
  }

  /** Whether to keep this member's bytes (the key pair and the init files: a few KiB). */
  wants(path: string, size: number): boolean {
    return size <= SMALL_LIMIT && (path === this.pem || path === this.pub || INIT_FILES.includes(path));
  }

  keep(path: string, bytes: Buffer): void {
    this.small.set(path, bytes);
  }

  refused(path: string): void {
    this.refusedPaths.add(path);
  }

  /** Every problem, once the archive has been read. */
  async problems(manifest: Manifest | undefined): Promise<ContentProblem[]> {
    const out = (await Promise.all(this.json)).filter((p): p is ContentProblem => p !== undefined);
    out.push(...this.keyProblems(manifest));
    for (const p of INIT_FILES) {
      const b = this.small.get(p);
      if (!b && this.refusedPaths.has(p)) continue;
      if (!b) {
        out.push({ code: 'ARCHIVE_CORRUPT', reason: 'missing-init', path: p, message: `the archive lacks ${p}` });
        continue;
      }
      try {
        JSON.parse(b.toString('utf8'));
      } catch (err) {
        const message = `${p} is not valid JSON (${(err as Error).message})`;
        out.push({ code: 'ARCHIVE_CORRUPT', reason: 'json', path: p, message });
      }
    }
    return out;
  }

  private keyProblems(manifest: Manifest | undefined): ContentProblem[] {
    const pem = this.pem ? this.small.get(this.pem) : undefined;
    const pub = this.pub ? this.small.get(this.pub) : undefined;
    if ((!pem && this.refusedPaths.has(this.pem!)) || (!pub && this.refusedPaths.has(this.pub!))) return [];
    if (!pem || !pub) {
      const message = 'the archive lacks master.pem or master.pub: restore refuses it';
      return [{ code: 'KEYS_INVALID', reason: 'missing-key', message }];
    }
    if (!isKeyPair(pem.toString('utf8'), pub.toString('utf8'))) {
      const message = 'master.pem and master.pub in the archive are not one key pair';
      return [{ code: 'KEYS_PAIR_MISMATCH', reason: 'key-pair', message }];
    }
    const finger = pemFinger(pub.toString('utf8'));
    if (manifest?.masterFingerprint && manifest.masterFingerprint !== finger) {
      const message = `master.pub's fingerprint ${finger} differs from the manifest's ${manifest.masterFingerprint}`;
      return [{ code: 'ARCHIVE_HASH_MISMATCH', reason: 'fingerprint', message }];
    }
    return [];
  }
}
