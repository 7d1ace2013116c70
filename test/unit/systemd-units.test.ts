// The formula's systemd units, rendered with the context the states pass them, pass Debian's
// `systemd-analyze verify` (no running systemd needed) and keep their hardening: no new
// privileges, a read-only system except the paths each daemon writes, restarts with limits.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeTmpDir } from '../helpers/tmpdir.js';
import { render } from '../helpers/salt-render.js';

const ANALYZE = '/usr/bin/systemd-analyze';
const UNITS = [
  'conductor-agent.service',
  'router-agent.service',
  'conductor-agent-backup.service',
  'conductor-agent-backup.timer',
];
// The merged `ssr` of defaults.yaml (what map.jinja hands the templates), with this machine's node.
const ssr = {
  node: { bin: process.execPath },
  prefix: '/opt/ssr-recovery',
  config_dir: '/etc/ssr-recovery',
  conductor: { state_dir: '/var/lib/ssr-recovery', backup: { dir: '/var/log/128technology', timer: '*-*-* 02:30:00' } },
  router: {
    minion_config_dir: '/etc/salt',
    minion_pki_dir: '/etc/salt/pki/minion',
    state_dir: '/var/lib/ssr-recovery-router',
  },
};

function verify(files: string[]): { status: number | null; stderr: string } {
  const r = spawnSync(ANALYZE, ['verify', '--man=no', ...files], { encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr };
}

describe('systemd units of the formula', function () {
  this.timeout(30_000);
  let dir: string;
  let cleanup: () => Promise<void>;
  const text: Record<string, string> = {};
  before(async () => {
    assert.ok(
      existsSync(ANALYZE),
      `${ANALYZE} is missing: install Debian's systemd package ` +
        "(apt-get install systemd; npm test's pretest does it)",
    );
    ({ dir, cleanup } = await makeTmpDir());
    const out = render(UNITS.map((u) => ({ path: `ssr_recovery/files/${u}`, context: { ssr } })));
    for (const [i, r] of out.entries()) {
      assert.equal(r.error, undefined, `${UNITS[i]}: ${r.error}`);
      text[UNITS[i]!] = r.text!;
      await writeFile(join(dir, UNITS[i]!), r.text!);
    }
  });
  after(() => cleanup?.());

  it('pass systemd-analyze verify with no warning', () => {
    const r = verify(UNITS.map((u) => join(dir, u)));
    assert.equal(r.stderr, '');
    assert.equal(r.status, 0);
  });

  it('systemd-analyze verify does catch what is wrong (unknown key, missing executable)', async () => {
    const bad = text['router-agent.service']!.replace(/^ExecStart=\S+/m, 'ExecStart=/nonexistent/node').replace(
      'UMask=0077',
      'UMask=0077\nProtectSytem=strict',
    );
    await writeFile(join(dir, 'bad.service'), bad);
    const r = verify([join(dir, 'bad.service')]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /Unknown key 'ProtectSytem'/);
    assert.match(r.stderr, /\/nonexistent\/node is not executable/);
  });

  for (const unit of ['conductor-agent.service', 'router-agent.service', 'conductor-agent-backup.service']) {
    it(`${unit}: no new privileges, read-only system except the paths it writes, bounded capabilities`, () => {
      const t = text[unit]!;
      const required = [
        'NoNewPrivileges=yes',
        'ProtectSystem=strict',
        'PrivateTmp=yes',
        'UMask=0077',
        'ProtectHome=read-only',
      ];
      for (const line of required) {
        assert.match(t, new RegExp(`^${line}$`, 'm'), `${unit}: ${line}`);
      }
      assert.match(t, /^CapabilityBoundingSet=CAP_\w+/m);
      assert.match(t, /^ReadWritePaths=\/\S+/m);
    });
  }

  it('daemons restart, with limits; the timer is the schedule alternative', () => {
    assert.match(text['conductor-agent.service']!, /^Restart=on-failure$[\s\S]*/m);
    assert.match(text['router-agent.service']!, /^Restart=always$/m);
    for (const u of ['conductor-agent.service', 'router-agent.service']) {
      assert.match(text[u]!, /^StartLimitIntervalSec=\d+$/m);
      assert.match(text[u]!, /^StartLimitBurst=\d+$/m);
    }
    assert.match(text['conductor-agent-backup.timer']!, /^OnCalendar=\*-\*-\* 02:30:00$/m);
    assert.match(text['conductor-agent-backup.timer']!, /^Unit=conductor-agent-backup.service$/m);
    assert.match(text['conductor-agent-backup.service']!, /^Type=oneshot$/m);
  });
});
