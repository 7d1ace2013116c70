#!/usr/bin/env node
// Makes sure the system tools the tests drive for real are present: GNU tar (interop), OpenSSH's
// sshd (SFTP/SSH tests), python3-jinja2 (the formula's templates) and systemd-analyze (its units). Installs them with apt-get when missing and we are root; otherwise fails
// with the exact command to run. Runs before `npm test` (pretest) and in .ci/run.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const needs = [
  { pkg: 'tar', ok: () => /GNU tar/.test(out('tar', ['--version'])) },
  { pkg: 'openssh-server', ok: () => existsSync('/usr/sbin/sshd') },
  { pkg: 'openssh-client', ok: () => existsSync('/usr/bin/ssh-keygen') },
  // The Salt formula's templates rendered as Salt renders them (test/fixtures/salt-render/render.py).
  { pkg: 'python3-jinja2', ok: () => spawnSync('python3', ['-c', 'import jinja2, markupsafe']).status === 0 },
  { pkg: 'python3-yaml', ok: () => spawnSync('python3', ['-c', 'import yaml']).status === 0 },
  // systemd-analyze verify of the formula's units (no running systemd needed).
  { pkg: 'systemd', ok: () => existsSync('/usr/bin/systemd-analyze') },
  // promtool checks the alert rules (observability/prometheus) and our metrics' names.
  { pkg: 'prometheus', ok: () => existsSync('/usr/bin/promtool') },
  // headless Chromium opens the status page in the browser test.
  { pkg: 'chromium', ok: () => existsSync('/usr/bin/chromium') },
];

function out(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return r.status === 0 ? r.stdout : '';
}

const missing = needs.filter((n) => !n.ok()).map((n) => n.pkg);
if (missing.length === 0) process.exit(0);
const cmd = `apt-get update && apt-get install -y --no-install-recommends ${missing.join(' ')}`;
// Wait for another apt/dpkg run (e.g. a Salt rig installing its python3 packages) instead of failing.
const lockWait = '-o DPkg::Lock::Timeout=300';
const runCmd = `apt-get ${lockWait} update && apt-get ${lockWait} install -y --no-install-recommends ${missing.join(' ')}`;
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
if (!isRoot || !existsSync('/usr/bin/apt-get')) {
  console.error(
    `The tests need these system packages: ${missing.join(', ')}.\nInstall them with:\n  sudo sh -c '${cmd}'`,
  );
  process.exit(1);
}
console.error(`installing system packages for the tests: ${missing.join(', ')}`);
try {
  execFileSync('sh', ['-c', `DEBIAN_FRONTEND=noninteractive ${runCmd}`], { stdio: ['ignore', 'inherit', 'inherit'] });
} catch {
  console.error(`Installing failed. Run by hand:\n  ${cmd}`);
  process.exit(1);
}
const still = needs.filter((n) => !n.ok()).map((n) => n.pkg);
if (still.length) {
  console.error(`Still missing after install: ${still.join(', ')}`);
  process.exit(1);
}
