/**
 * Backups that prove who made them (issue 9 E): attacks by whoever owns the backup store or the
 * off-box host, each refused by BOTH `backup verify` and `restore`, the target left byte-identical
 * and 128T never stopped. The archives are real: made by `createBackup`, taken apart and re-packed
 * with GNU tar, their sidecars rewritten (the attacker owns the folder, so the sidecar proves nothing).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fsp, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { createBackup } from '../../conductor-agent/backup/run.js';
import { resolveTrustedSigners } from '../../conductor-agent/backup/signer.js';
import { verifyArchive, type VerifyResult } from '../../conductor-agent/backup/verify.js';
import { restoreConductor } from '../../conductor-agent/restore/index.js';
import { MANIFEST_NAME, type Manifest } from '../../shared/backup/format.js';
import { signManifest, type ManifestSigner } from '../../shared/backup/signature.js';
import { underRoot } from '../../shared/config/schema.js';
import { RecoveryError } from '../../shared/errors.js';
import { generateSigningKeyPair } from '../../shared/protocol/signing-keys.js';
import {
  backupAndDriftedTemplate,
  fakeService,
  snapshot,
  snapshotDiff,
  testConfig,
  testPorts,
} from './restore-support.js';

const RUNNING = 'var/lib/128technology/t128-running.json';

function tar(args: string[]): string {
  const r = spawnSync('tar', args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`tar ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');
const otherSigner = (): ManifestSigner => generateSigningKeyPair();

describe("signed backups: the backup store's owner cannot make an archive that verifies or restores", function () {
  this.timeout(120_000);
  const config = testConfig();
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let src: string;
  let archive: string;
  let older: string;
  let template: string;
  let trusted: ReadonlySet<string>;
  let n = 0;

  before(async () => {
    ({ tmp, src, archive, template } = await backupAndDriftedTemplate('signed-backups-', config));
    // An older signed backup of the same conductor, before the running config changed.
    older = archive;
    writeFileSync(join(src, RUNNING), '{"datastore":{"newer":true}}\n');
    await new Promise((r) => setTimeout(r, 1100)); // archive names carry the time to the second
    archive = (await createBackup({ config, root: src, hostname: 'cond1', dir: '/backups' })).archive;
    trusted = (await resolveTrustedSigners({ config, path: (p) => underRoot(src, p) })).fingerprints;
    assert.equal(trusted.size, 1, 'the current identity is the one trusted signer');
  });
  after(() => tmp.cleanup());

  /**
   * Unpack `from`, let `change` edit the files and the parsed manifest, re-pack manifest first under
   * `name` (default: the original's), rewrite the sidecar.
   */
  function forge(
    from: string,
    change: (dir: string, m: Manifest & Record<string, unknown>) => void,
    name = basename(from),
  ): string {
    const dir = join(tmp.dir, `forge-${++n}`);
    mkdirSync(dir);
    const members = tar(['-tzf', from]).trim().split('\n');
    tar(['-xzf', from, '-C', dir]);
    const m = JSON.parse(readFileSync(join(dir, MANIFEST_NAME), 'utf8')) as Manifest & Record<string, unknown>;
    change(dir, m);
    writeFileSync(join(dir, MANIFEST_NAME), JSON.stringify(m));
    mkdirSync(join(tmp.dir, `out-${n}`));
    const out = join(tmp.dir, `out-${n}`, name);
    writeFileSync(join(tmp.dir, `list-${n}`), `${members.join('\n')}\n`);
    tar(['-czf', out, '-C', dir, '--no-recursion', '-T', join(tmp.dir, `list-${n}`)]);
    writeFileSync(`${out}.sha256`, `${sha256(readFileSync(out))}  forged.tar.gz\n`);
    return out;
  }
  const rewriteRunning = (dir: string, m: Manifest): void => {
    const body = '{"datastore":{"attacker":true}}\n';
    writeFileSync(join(dir, RUNNING), body);
    const e = m.entries.find((x) => x.path === RUNNING)!;
    Object.assign(e, { sha256: sha256(body), size: Buffer.byteLength(body) });
  };

  /** Restore `forged` over a fresh copy of the template (which holds the identity): must be refused, nothing changed. */
  async function refusedByRestore(forged: string, code: string, extra: { yes?: boolean } = {}): Promise<RecoveryError> {
    const dst = join(tmp.dir, `target-${++n}`);
    await fsp.cp(template, dst, { recursive: true, preserveTimestamps: true });
    const before = snapshot(dst);
    const svc = fakeService();
    const err = await restoreConductor({
      archive: forged,
      root: dst,
      config,
      ...extra,
      ports: { ...testPorts(), services: [svc] },
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof RecoveryError, `expected a refusal, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.deepEqual(snapshotDiff(before, snapshot(dst)), [], 'the target must be byte-identical');
    assert.ok(!svc.calls.includes('stop'), '128T must not be stopped');
    return err;
  }
  const kinds = (v: VerifyResult): string[] => v.differences.map((d) => d.kind);

  it('a genuine backup is signed by the conductor-agent identity and verifies as verified, with its signer', async () => {
    const v = await verifyArchive(archive, { trustedSigners: trusted });
    assert.equal(v.status, 'verified');
    assert.equal(v.signature?.status, 'signed');
    assert.ok(trusted.has(v.signature!.fingerprint!));
    const dst = join(tmp.dir, 'genuine');
    await fsp.cp(template, dst, { recursive: true, preserveTimestamps: true });
    const r = await restoreConductor({ archive, root: dst, config, dryRun: true, ports: testPorts() });
    assert.equal(r.ok, true);
    assert.equal(r.signer, v.signature!.fingerprint);
    assert.equal(r.findings.find((f) => f.check === 'archive.signature')?.level, 'ok');
  });

  it('attack: rewrite a file and its hash in the manifest (signature no longer matches) → ARCHIVE_SIGNATURE_INVALID', async () => {
    const forged = forge(archive, rewriteRunning);
    const v = await verifyArchive(forged, { trustedSigners: trusted });
    assert.equal(v.status, 'failed');
    assert.deepEqual(kinds(v), ['signature-invalid']);
    await refusedByRestore(forged, 'ARCHIVE_SIGNATURE_INVALID', { yes: true });
  });

  it('attack: rewrite a file and re-sign the manifest with another key → ARCHIVE_SIGNER_UNTRUSTED, signer shown', async () => {
    const mallory = otherSigner();
    const forged = forge(archive, (dir, m) => {
      rewriteRunning(dir, m);
      m.signature = signManifest(m, mallory);
    });
    const v = await verifyArchive(forged, { trustedSigners: trusted });
    assert.equal(v.status, 'failed');
    assert.deepEqual(kinds(v), ['signer-untrusted']);
    assert.equal(v.signature?.status, 'untrusted');
    assert.ok(v.signature?.fingerprint && !trusted.has(v.signature.fingerprint));
    const err = await refusedByRestore(forged, 'ARCHIVE_SIGNER_UNTRUSTED', { yes: true });
    assert.equal(err.exitCode, 7);
  });

  it('attack: re-sign with another key but name the trusted fingerprint in the signature → ARCHIVE_SIGNATURE_INVALID', async () => {
    const forged = forge(archive, (dir, m) => {
      rewriteRunning(dir, m);
      const sig = signManifest(m, otherSigner());
      m.signature = { ...sig, fingerprint: [...trusted][0]! };
    });
    assert.deepEqual(kinds(await verifyArchive(forged, { trustedSigners: trusted })), ['signature-invalid']);
    await refusedByRestore(forged, 'ARCHIVE_SIGNATURE_INVALID', { yes: true });
  });

  it('attack: strip the signature → verify says unsigned (not verified), restore needs --yes', async () => {
    const forged = forge(archive, (dir, m) => {
      rewriteRunning(dir, m);
      delete m.signature;
    });
    const v = await verifyArchive(forged, { trustedSigners: trusted });
    assert.equal(v.status, 'unsigned');
    assert.equal(v.signature?.status, 'unsigned');
    await refusedByRestore(forged, 'RESTORE_NEEDS_CONFIRMATION');
  });

  it('attack: swap in the signature of another (older) archive → ARCHIVE_SIGNATURE_INVALID', async () => {
    const olderSig = (JSON.parse(tar(['-xOzf', older, MANIFEST_NAME])) as Manifest).signature!;
    const forged = forge(archive, (dir, m) => {
      rewriteRunning(dir, m);
      m.signature = olderSig;
    });
    assert.deepEqual(kinds(await verifyArchive(forged, { trustedSigners: trusted })), ['signature-invalid']);
    await refusedByRestore(forged, 'ARCHIVE_SIGNATURE_INVALID', { yes: true });
  });

  it('attack: replay an older signed manifest with a newer body → member hash differences, ARCHIVE_HASH_MISMATCH', async () => {
    const olderManifest = JSON.parse(tar(['-xOzf', older, MANIFEST_NAME])) as Manifest & Record<string, unknown>;
    const replay = (_dir: string, m: Manifest & Record<string, unknown>): void => {
      for (const k of Object.keys(m)) delete m[k];
      Object.assign(m, olderManifest);
    };
    // Named as the older archive (the name its manifest implies): the body gives it away.
    const asOlder = forge(archive, replay, basename(older));
    const v = await verifyArchive(asOlder, { trustedSigners: trusted });
    assert.equal(v.status, 'failed');
    assert.equal(v.signature?.status, 'signed', 'the replayed manifest itself is genuine');
    assert.ok(kinds(v).includes('member-hash'), kinds(v).join(','));
    await refusedByRestore(asOlder, 'ARCHIVE_HASH_MISMATCH', { yes: true });
    // Under the newer archive's name: the name gives it away before anything is read.
    const asNewer = forge(archive, replay);
    const newer = kinds(await verifyArchive(asNewer, { trustedSigners: trusted }));
    assert.ok(newer.includes('name-mismatch') && newer.includes('member-hash'), newer.join(','));
    await refusedByRestore(asNewer, 'ARCHIVE_NAME_MISMATCH', { yes: true });
  });

  it('attack: an older genuine archive renamed as the newest (rollback) → name-mismatch, ARCHIVE_NAME_MISMATCH', async () => {
    const dir = join(tmp.dir, 'rollback');
    mkdirSync(dir);
    const renamed = join(dir, basename(archive));
    await fsp.copyFile(older, renamed);
    writeFileSync(`${renamed}.sha256`, `${sha256(readFileSync(renamed))}  ${basename(archive)}\n`);
    const v = await verifyArchive(renamed, { trustedSigners: trusted });
    assert.equal(v.signature?.status, 'signed');
    assert.deepEqual(kinds(v), ['name-mismatch']);
    await refusedByRestore(renamed, 'ARCHIVE_NAME_MISMATCH', { yes: true });
    // A name outside our pattern (an operator's own copy) is not judged.
    const own = join(dir, 'before-upgrade.tar.gz');
    await fsp.copyFile(older, own);
    assert.equal((await verifyArchive(own, { trustedSigners: trusted })).status, 'verified');
  });

  it('attack: a non-canonical base64url signature value (same bytes, other text) → ARCHIVE_SIGNATURE_INVALID', async () => {
    const forged = forge(archive, (_dir, m) => {
      const v = m.signature!.value;
      // The last character carries 2 unused bits: a different letter can decode to the same 64 bytes.
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      const i = alphabet.indexOf(v.at(-1)!);
      m.signature = { ...m.signature!, value: v.slice(0, -1) + alphabet[(i & ~3) | ((i & 3) ^ 1)]! };
      assert.deepEqual(Buffer.from(m.signature.value, 'base64url'), Buffer.from(v, 'base64url'));
    });
    assert.deepEqual(kinds(await verifyArchive(forged, { trustedSigners: trusted })), ['signature-invalid']);
    await refusedByRestore(forged, 'ARCHIVE_SIGNATURE_INVALID', { yes: true });
  });

  it('attack: swap the archive between preflight and staging (checked manifest ≠ restored one) → ARCHIVE_CHANGED', async () => {
    const work = join(tmp.dir, 'swap.tar.gz');
    await fsp.copyFile(archive, work);
    await fsp.copyFile(`${archive}.sha256`, `${work}.sha256`);
    const forged = forge(archive, (dir, m) => {
      rewriteRunning(dir, m);
      delete m.signature;
    });
    const dst = join(tmp.dir, 'swap-target');
    await fsp.cp(template, dst, { recursive: true, preserveTimestamps: true });
    const before = snapshot(dst);
    const svc = fakeService();
    const err = await restoreConductor({
      archive: work,
      root: dst,
      config,
      ports: {
        ...testPorts(),
        services: [svc],
        hooks: {
          afterPhase: async (phase) => {
            if (phase !== 'staging') return;
            await fsp.copyFile(forged, work);
            await fsp.copyFile(`${forged}.sha256`, `${work}.sha256`);
          },
        },
      },
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof RecoveryError, String(err));
    assert.equal(err.code, 'ARCHIVE_CHANGED', err.message);
    assert.deepEqual(snapshotDiff(before, snapshot(dst)), []);
    assert.ok(!svc.calls.includes('stop'));
  });

  it('a rebuilt conductor without the old identity trusts the old signer only when told (--trusted-signer)', async () => {
    const v = await verifyArchive(archive, { trustedSigners: trusted });
    const fingerprint = v.signature!.fingerprint!;
    const dst = join(tmp.dir, 'rebuilt');
    await fsp.cp(template, dst, { recursive: true, preserveTimestamps: true });
    await fsp.rm(join(dst, config.agents.stateDir), { recursive: true });
    const before = snapshot(dst);
    const err = await restoreConductor({ archive, root: dst, config, dryRun: true, ports: testPorts() }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof RecoveryError && err.code === 'ARCHIVE_SIGNER_UNTRUSTED', String(err));
    assert.deepEqual(snapshotDiff(before, snapshot(dst)), []);
    const told = await resolveTrustedSigners({ config, path: (p) => underRoot(dst, p), extra: [fingerprint] });
    const ok = await restoreConductor({
      archive,
      root: dst,
      config,
      trustedSigners: told.fingerprints,
      ports: testPorts(),
    });
    assert.equal(ok.ok, true);
    // Identity travels in backups: the restored conductor trusts its own old backups by default.
    const after = await resolveTrustedSigners({ config, path: (p) => underRoot(dst, p) });
    assert.ok(after.fingerprints.has(fingerprint));
    assert.equal((await verifyArchive(older, { trustedSigners: after.fingerprints })).status, 'verified');
  });
});
