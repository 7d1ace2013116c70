/**
 * Signed backups through the real bin: create names its signer; verify and list show it; another
 * conductor's archive is refused (exit 7) until its key is named with --trusted-signer (a
 * fingerprint, or a file holding the public key), and the trusted-signers setting works the same.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeConductorTree } from '../../sandbox/conductor-tree.js';
import { makeTmpDir } from '../helpers/tmpdir.js';

const bin = fileURLToPath(new URL('../../dist/conductor-agent/bin.js', import.meta.url));
const cli = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawnSync(process.execPath, [bin, ...args], {
    encoding: 'utf8',
    env: { ...process.env, SSR_RECOVERY_LOG_LEVEL: undefined, ...env },
  });

describe('conductor-agent backup: signatures through the real CLI', function () {
  this.timeout(120_000);
  let dir: string;
  let cleanup: () => Promise<void>;
  let a: string;
  let b: string;
  let archiveOfB: string;
  let signerOfB: string;

  before(async () => {
    ({ dir, cleanup } = await makeTmpDir('sig-cli-'));
    a = join(dir, 'a');
    b = join(dir, 'b');
    await makeConductorTree(a, { minions: 1 });
    cpSync(a, b, { recursive: true });
    const made = cli(['backup', 'create', '--json', '--root', b]);
    assert.equal(made.status, 0, made.stderr);
    ({ archive: archiveOfB, signer: signerOfB } = JSON.parse(made.stdout) as { archive: string; signer: string });
    assert.match(signerOfB, /^([0-9a-f]{2}:){31}[0-9a-f]{2}$/);
  });
  after(() => cleanup());

  it('create signs with the identity keys status shows; verify and list show the signer', () => {
    const keys = JSON.parse(cli(['keys', 'status', '--json', '--root', b]).stdout) as {
      agent: { signingFingerprint: string };
    };
    assert.equal(keys.agent.signingFingerprint, signerOfB, 'the backup is signed by the key routers pin');
    const v = cli(['backup', 'verify', '--root', b, archiveOfB]);
    assert.equal(v.status, 0, v.stdout + v.stderr);
    assert.match(v.stdout, /^VERIFIED: /);
    assert.match(v.stdout, new RegExp(`signature: signed, signer ${signerOfB}`));
    const l = JSON.parse(cli(['backup', 'list', '--json', '--root', b]).stdout) as {
      backups: { signature: string; signer: string }[];
    };
    assert.deepEqual(
      l.backups.map((x) => [x.signature, x.signer]),
      [['signed', signerOfB]],
    );
  });

  it("another conductor's archive: refused by verify (exit 7, signer-untrusted) until named by fingerprint or key file", () => {
    cli(['backup', 'create', '--json', '--root', a]); // a has an identity of its own now
    const refused = cli(['backup', 'verify', '--json', '--root', a, archiveOfB]);
    assert.equal(refused.status, 7, refused.stderr);
    const doc = JSON.parse(refused.stdout) as {
      status: string;
      signature: { status: string; fingerprint: string };
      differences: { kind: string }[];
    };
    assert.equal(doc.status, 'failed');
    assert.equal(doc.signature.status, 'untrusted');
    assert.equal(doc.signature.fingerprint, signerOfB);
    assert.deepEqual(
      doc.differences.map((d) => d.kind),
      ['signer-untrusted'],
    );

    assert.equal(cli(['backup', 'verify', '--root', a, '--trusted-signer', signerOfB, archiveOfB]).status, 0);
    const pubFile = join(dir, 'b-signer.pub');
    copyFileSync(join(b, 'var/lib/ssr-recovery/agent-signing.pub'), pubFile);
    assert.equal(cli(['backup', 'verify', '--root', a, '--trusted-signer', pubFile, archiveOfB]).status, 0);
    assert.equal(
      cli(['backup', 'verify', '--root', a, archiveOfB], { SSR_RECOVERY_BACKUP_TRUSTED_SIGNERS: signerOfB }).status,
      0,
    );
    mkdirSync(join(a, 'etc/ssr-recovery'), { recursive: true });
    writeFileSync(join(a, 'etc/ssr-recovery/b.pub'), readFileSync(pubFile));
    writeFileSync(
      join(a, 'etc/ssr-recovery/conductor-agent.yaml'),
      'backup:\n  trustedSigners:\n    - /etc/ssr-recovery/b.pub\n',
    );
    assert.equal(
      cli(['backup', 'verify', '--root', a, archiveOfB]).status,
      0,
      'a trusted-signers file in the config (under --root)',
    );
  });

  it('a trusted signer that is not a key or fingerprint is a config error (exit 3), not a silent distrust', () => {
    const r = cli(['backup', 'verify', '--json', '--root', b, '--trusted-signer', 'not-a-key', archiveOfB]);
    assert.equal(r.status, 3);
    assert.equal(JSON.parse(r.stdout).error.code, 'CONFIG_INVALID');
  });
});
