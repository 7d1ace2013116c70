#!/usr/bin/env node
// Installs the python3-* packages real Salt needs on Debian (the list rig.sh installs), when
// SALT_RIG is set and /usr/bin/python3 lacks one of them. Run as root; `.ci/run` calls it before
// `npm run test:salt`. A machine with Salt on PATH needs nothing from here.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

// The list lives in python-deps.json (rig.ts checks the same modules).
const deps = JSON.parse(readFileSync(new URL('./python-deps.json', import.meta.url), 'utf8')).modules;
const mods = deps.filter((d) => d.module).map((d) => d.module);
const pkgs = deps.map((d) => d.package);
if (!process.env.SALT_RIG) process.exit(0);
const probe = spawnSync('/usr/bin/python3', ['-c', `import ${mods.join(',')}`], {
  env: { ...process.env, PYTHONPATH: '' },
});
if (probe.status === 0) process.exit(0);
console.error('test:salt: installing the python3 packages Salt needs (apt-get)…');
// Another apt-get may hold the dpkg lock (see test/setup/system-packages.mjs): wait for it.
const opts = ['-o', 'DPkg::Lock::Timeout=300'];
spawnSync('apt-get', [...opts, 'update', '-qq'], { stdio: 'ignore' });
const r = spawnSync('apt-get', [...opts, 'install', '-y', '-qq', ...pkgs], {
  stdio: ['ignore', 'ignore', 'inherit'],
  env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
});
process.exit(r.status ?? 1);
