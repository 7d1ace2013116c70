import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../dist/conductor-agent/bin.js', import.meta.url));

function runBin(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('npm start: the disaster-recovery drill (real bins, real processes, loopback)', function () {
  this.timeout(240_000);

  it('backs up, loses the conductor, restores, re-keys, re-authenticates every router through its agent and verifies', async () => {
    const r = await runBin(['drill', '--json', '--routers', '2']);
    const report = JSON.parse(r.stdout);
    assert.equal(
      r.code,
      0,
      `drill failed: ${JSON.stringify(report.steps.filter((s: { status: string }) => s.status !== 'ok'))}\n${r.stderr.slice(-2000)}`,
    );
    assert.equal(report.ok, true);
    assert.deepEqual(
      report.steps.map((s: { name: string; status: string }) => `${s.name}:${s.status}`),
      ['build', 'backup', 'disaster', 'rebuild', 'restore', 'rekey', 'reauth', 'agentless', 'verify'].map(
        (n) => `${n}:ok`,
      ),
    );
    const step = (n: string) => report.steps.find((s: { name: string }) => s.name === n).facts;
    // The wave's rate limit shows in the report; the agentless router came back over real sshd
    // (openssh-server is a test prerequisite, test/setup/system-packages.mjs).
    assert.equal(step('reauth').rateLimit, '5/s');
    assert.match(String(step('reauth').achievedRate), /^(\d+(\.\d+)?\/s|-)$/);
    assert.equal(step('agentless').agentless, 'back over SSH', JSON.stringify(step('agentless')));
    assert.match(String(step('agentless').route), /^ssh-tunnel node0\.agentless-1 → /);
    assert.equal(step('agentless').hostKeyPinnedFrom, 'known_hosts');
    assert.equal(step('backup').verify, 'verified');
    assert.equal(
      step('rebuild').unpinnedAgentAcceptedBy,
      0,
      'router agents must refuse a conductor-agent they never pinned',
    );
    assert.equal(step('rebuild').minionsHeldPending, 2, 'a rebuilt master must not accept minions blindly');
    assert.equal(step('restore').sameKeyAsBefore, true);
    assert.notEqual(step('rekey').newFingerprint, step('rekey').oldFingerprint);
    for (const router of report.routers) {
      assert.equal(router.trustAfterRekey, 'stale-master-key');
      assert.equal(router.reauthOk, true);
      assert.equal(
        router.fingerprint,
        step('rekey').newFingerprint,
        'each router pinned and cached exactly the new key',
      );
    }
    assert.deepEqual(
      step('verify').checks.map((c: { status: string }) => c.status),
      ['pass', 'pass', 'pass'],
    );
    assert.equal(existsSync(report.sandbox), false, 'the sandbox is removed unless --keep');
  });

  it('refuses a non-loopback sandbox address with a usage error', async () => {
    const r = await runBin(['drill', '--host', '10.1.2.3']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /USAGE/);
  });
});
