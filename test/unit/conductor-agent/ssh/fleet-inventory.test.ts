import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { parseNodeIdentifier, tunnelMinionIds } from '../../../../conductor-agent/ssh/node-identifier.js';
import { parseKnownHosts, pinsFor, blobFingerprint } from '../../../../conductor-agent/ssh/known-hosts.js';
import { parseInventory } from '../../../../conductor-agent/ssh/inventory.js';
import { stepCommands, pinContent } from '../../../../conductor-agent/ssh/steps.js';

const FP = Array.from({ length: 32 }, () => 'ab').join(':');
const layout = {
  configDir: '/etc/salt',
  pkiDir: '/etc/salt/pki/minion',
  serviceCommand: '/usr/bin/systemctl',
  unit: 'salt-minion',
  sudo: true,
};

describe('SSH fallback inputs (pure)', () => {
  it('reads the SSR nodeIdentifier map (ssh_config) and maps minion ids to tunnels', () => {
    const text =
      '# written by 128T\nHost *\n  StrictHostKeyChecking yes\nHost node1.branch-7\n  HostName 127.127.0.1\n  Port 16496\n\nHost node1.hq\n HostName=127.127.0.1\n Port=16500\nHost node2.hq\n  HostName 127.127.0.1\n  Port 16501\n  User t128\n';
    const entries = parseNodeIdentifier(text);
    assert.deepEqual(
      entries.map((e) => [e.alias, e.router, e.node, e.port]),
      [
        ['node1.branch-7', 'branch-7', 'node1', 16496],
        ['node1.hq', 'hq', 'node1', 16500],
        ['node2.hq', 'hq', 'node2', 16501],
      ],
    );
    const ids = tunnelMinionIds(entries);
    assert.equal(ids.get('branch-7')?.port, 16496, 'a single-node router is reachable by its router name');
    assert.equal(ids.has('hq'), false, 'an HA router needs the node: never guess which one');
    assert.throws(
      () => parseNodeIdentifier('Host n1.r1\n  HostName 127.0.0.1; rm -rf /\n  Port 1\n'),
      (e: { code?: string }) => e.code === 'FLEET_INVENTORY_INVALID',
    );
    assert.throws(
      () => parseNodeIdentifier('Host n1.r1\n  HostName 127.0.0.1\n  Port 70000\n'),
      (e: { code?: string }) => e.code === 'FLEET_INVENTORY_INVALID',
    );
  });

  it('pins host keys from known_hosts: plain, [host]:port, hashed, and @revoked wins', () => {
    const blob1 = randomBytes(51).toString('base64');
    const blob2 = randomBytes(51).toString('base64');
    const salt = randomBytes(20);
    const hashed = `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update('[10.0.0.9]:2222').digest('base64')}`;
    const text = [
      `10.0.0.8,router-a ssh-ed25519 ${blob1}`,
      `${hashed} ssh-ed25519 ${blob2}`,
      `@revoked 10.0.0.7 ssh-ed25519 ${blob1}`,
      `10.0.0.7 ssh-ed25519 ${blob1}`,
      `@cert-authority * ssh-ed25519 ${blob2}`,
    ].join('\n');
    const lines = parseKnownHosts(text);
    assert.deepEqual(pinsFor(lines, '10.0.0.8', 22), [blobFingerprint(blob1)]);
    assert.deepEqual(pinsFor(lines, '10.0.0.9', 2222), [blobFingerprint(blob2)]);
    assert.deepEqual(pinsFor(lines, '10.0.0.7', 22), [], 'revoked');
    assert.deepEqual(pinsFor(lines, 'elsewhere', 22), [], 'a CA line is not a pin');
    assert.equal(
      blobFingerprint(blob1),
      `SHA256:${createHash('sha256').update(Buffer.from(blob1, 'base64')).digest('base64').replace(/=+$/, '')}`,
    );
  });

  it('validates every inventory value that reaches a command template, listing every problem', () => {
    const ok = parseInventory(
      '- minion: r1\n  host: 10.0.0.1\n  user: t128\n  keyFile: /etc/ssr-recovery/id_ed25519\n',
    );
    assert.equal(ok[0]!.port, 22);
    assert.equal(ok[0]!.serviceCommand, '/usr/bin/systemctl');
    assert.throws(
      () =>
        parseInventory(
          JSON.stringify([
            { minion: 'r1', host: 'h', pkiDir: "/etc/salt'; reboot; '" },
            { minion: 'r2', unit: 'salt minion', port: 0 },
          ]),
        ),
      (e: { code?: string; details?: { problems?: string[] } }) => {
        assert.equal(e.code, 'FLEET_INVENTORY_INVALID');
        assert.equal(e.details!.problems!.length, 3);
        return true;
      },
    );
    assert.throws(
      () => parseInventory('- minion: r1\n  configDir: /etc/../root\n'),
      (e: { code?: string }) => e.code === 'FLEET_INVENTORY_INVALID',
    );
    assert.throws(
      () => parseInventory('- minion: r1\n  password: hunter2\n'),
      (e: { code?: string }) => e.code === 'FLEET_INVENTORY_INVALID',
      'secrets only from files',
    );
  });

  it('builds the steps from fixed templates and refuses anything but a validated fingerprint and layout', () => {
    const c = stepCommands(layout, FP);
    assert.equal(c.stop, "sudo -n -- '/usr/bin/systemctl' stop 'salt-minion'");
    assert.equal(
      c.moveStale,
      "sudo -n -- mv -f -- '/etc/salt/pki/minion/minion_master.pub' '/etc/salt/pki/minion/minion_master.pub.ssr-recovery-stale'",
    );
    assert.equal(c.writePin, "sudo -n -- tee -- '/etc/salt/minion.d/ssr-recovery-master-finger.conf.tmp'");
    assert.match(pinContent(FP), new RegExp(`^master_finger: '${FP}'$`, 'm'));
    for (const bad of [`${FP}'; reboot; '`, FP.toUpperCase(), 'ab:cd', '']) {
      assert.throws(
        () => stepCommands(layout, bad),
        (e: { code?: string }) => e.code === 'REAUTH_REFUSED',
        bad,
      );
    }
    assert.throws(
      () => stepCommands({ ...layout, unit: 'salt-minion; reboot' }, FP),
      (e: { code?: string }) => e.code === 'REAUTH_REFUSED',
    );
    assert.throws(
      () => stepCommands({ ...layout, pkiDir: "/x'y" }, FP),
      (e: { code?: string }) => e.code === 'REAUTH_REFUSED',
    );
  });
});
