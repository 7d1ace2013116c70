// `conductor-agent reauth --all|--routers …` through the real CLI wiring (in-process, --root
// sandbox: master simulator + salt-api emulator, a registry, the SSR nodeIdentifier map), with no
// daemon running: usage errors, the dry-run plan as JSON, a bad inventory, --resume with nothing
// to resume, and a wave that reaches nobody (exit 1, journal kept, nothing accepted).
import assert from 'node:assert/strict';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadOrCreateAgentKey } from '../../router-agent/agent-key.js';
import { AgentRegistry } from '../../conductor-agent/registry/store.js';
import { startSaltSandbox, type SaltSandbox } from '../../sandbox/saltapi-emulator/sandbox.js';
import { memoryIo } from '../helpers/cli.js';
import { makeTmpDir } from '../helpers/tmpdir.js';

describe('conductor-agent reauth fleet wave (CLI, in-process, no daemon)', function () {
  this.timeout(60_000);
  let root: string;
  let cleanup: () => Promise<void>;
  let sb: SaltSandbox;
  const run = async (...args: string[]) => {
    const { main } = await import('../../conductor-agent/cli/main.js');
    const io = memoryIo();
    const code = await main(['--root', root, ...args], io);
    return { code, out: io.out(), err: io.err() };
  };

  before(async () => {
    ({ dir: root, cleanup } = await makeTmpDir());
    sb = await startSaltSandbox({ root, host: '127.7.0.5' });
    await mkdir(join(root, 'etc/ssr-recovery'), { recursive: true });
    await writeFile(
      join(root, 'etc/ssr-recovery/conductor-agent.yaml'),
      JSON.stringify({
        saltApi: {
          url: sb.url,
          username: sb.username,
          eauth: sb.eauth,
          passwordFile: '/etc/ssr-recovery/salt-api.secret',
        },
        agents: { controlSocket: '/run/ssr-recovery/none.sock' },
        reauth: { verifyTimeoutSeconds: 1, routerTimeoutSeconds: 2 },
      }),
    );
    const reg = await AgentRegistry.open(join(root, 'var/lib/ssr-recovery'), {
      lockFile: join(root, 'run/ssr-recovery/agent-registry.lock'),
      flushDelayMs: 1,
    });
    for (const id of ['east-1', 'east-2', 'west-1'])
      await reg.enroll(id, (await loadOrCreateAgentKey(join(root, `agent-${id}`))).publicPem, { source: 'salt-event' });
    await reg.flush();
    await mkdir(join(root, 'var/lib/128technology/connect'), { recursive: true });
    await writeFile(
      join(root, 'var/lib/128technology/connect/nodeIdentifier'),
      'Host node1.west-1\n  HostName 127.127.0.1\n  Port 16496\n',
    );
  });
  after(async () => {
    await sb.close();
    await cleanup();
  });

  it('names the routers or refuses: usage errors exit 2 with a stable code', async () => {
    for (const args of [
      ['reauth'],
      ['reauth', '--all', '--routers', 'x'],
      ['reauth', '--all', '--rate', 'fast'],
      ['reauth', '--all', '--concurrency', '0'],
      ['reauth', '--router', 'a', '--all'],
    ]) {
      const r = await run(...args, '--json');
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
      assert.equal(JSON.parse(r.out).error.code, 'USAGE');
    }
    const resume = await run('reauth', '--resume', '--json');
    assert.equal(resume.code, 2);
    assert.equal(JSON.parse(resume.out).error.code, 'FLEET_NOTHING_TO_RESUME');
  });

  it('--dry-run --json prints the plan: no agent channel without the daemon, the tunnel route needs a pin', async () => {
    const r = await run('reauth', '--routers', 'east-*', '--routers', 'west-1', '--dry-run', '--json');
    assert.equal(r.code, 0, r.err);
    const doc = JSON.parse(r.out);
    assert.equal(doc.dryRun, true);
    assert.ok(doc.conductor.id);
    assert.match(doc.masterFingerprint, /^[0-9a-f]{2}(:[0-9a-f]{2}){31}$/);
    const plan = new Map(doc.plan.map((p: { routerId: string }) => [p.routerId, p]));
    assert.deepEqual([...plan.keys()], ['east-1', 'east-2', 'west-1']);
    assert.match((plan.get('east-1') as { reason: string }).reason, /agent offline; no SSH route/);
    assert.match(
      (plan.get('west-1') as { reason: string }).reason,
      /ssh-tunnel 127.127.0.1:16496 has no pinned host key/,
    );
    assert.match(r.err, /daemon not running/);
  });

  it('a malformed inventory is a configuration error (exit 3) naming every problem', async () => {
    const inv = join(root, 'inventory.yaml');
    await writeFile(inv, "- minion: east-1\n  host: 'a b'\n- minion: east-2\n  unit: 'x;y'\n");
    const r = await run('reauth', '--all', '--inventory', inv, '--json');
    assert.equal(r.code, 3, r.err);
    const e = JSON.parse(r.out).error;
    assert.equal(e.code, 'FLEET_INVENTORY_INVALID');
    assert.equal(e.details.problems.length, 2);
  });

  it('a wave that reaches nobody exits 1, keeps its journal and accepts nothing', async () => {
    const r = await run('reauth', '--all', '--json');
    assert.equal(r.code, 1, r.err);
    const doc = JSON.parse(r.out);
    assert.equal(doc.totals.blocked, 3);
    assert.ok(doc.routers.every((x: { code: string }) => x.code === 'FLEET_NO_CHANNEL'));
    assert.deepEqual((await readdir(join(root, 'var/lib/ssr-recovery-reauth'))).sort(), [
      'outcomes.jsonl',
      'wave.json',
    ]);
    assert.deepEqual(await readdir(join(sb.pkiDir, 'minions')).catch(() => []), []);
  });
});
