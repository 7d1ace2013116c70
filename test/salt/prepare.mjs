#!/usr/bin/env node
// Installs the python3-* packages real Salt needs on Debian (the list rig.sh installs), when
// SALT_RIG is set and /usr/bin/python3 lacks one of them. Run as root; `.ci/run` calls it before
// `npm run test:salt`. A machine with Salt on PATH needs nothing from here.
import { spawnSync } from 'node:child_process';

const mods = [
  'zmq',
  'msgpack',
  'yaml',
  'jinja2',
  'cryptography',
  'Cryptodome',
  'cherrypy',
  'psutil',
  'distro',
  'requests',
  'markupsafe',
  'packaging',
  'jmespath',
];
const pkgs = [
  'python3-zmq',
  'python3-msgpack',
  'python3-yaml',
  'python3-jinja2',
  'python3-cryptography',
  'python3-pycryptodome',
  'python3-cherrypy3',
  'python3-psutil',
  'python3-distro',
  'python3-requests',
  'python3-markupsafe',
  'python3-packaging',
  'python3-jmespath',
  'python3-ws4py',
];
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
