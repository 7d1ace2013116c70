#!/usr/bin/env node
/**
 * `npm run release` (after `npm run build`): assembles what the Salt formula installs, in release/:
 *
 *   release/salt/                          copy into the master's file_roots (/srv/salt): the formula,
 *                                          orchestrations, reactors, pillar.example, and in
 *                                          ssr_recovery/files/ the two artifacts below
 *   ssr-recovery-conductor.tgz             package/{package.json, dist/conductor-agent/bundle/…,
 *                                          dist/router-agent/*.cjs} — the conductor agent with all its
 *                                          dependencies and the drill's sandbox; the router bundle
 *                                          rides along for the drill's simulated routers
 *   ssr-recovery-router.tgz                package/{package.json, dist/router-agent/*.cjs} — nothing
 *                                          of the conductor or its sandbox
 *   (each with a <name>.sha256 beside it, read by the formula's archive.extracted)
 *   release/ssr-recovery-salt-<version>.tar.gz   release/salt/ as one file to ship
 *
 * Both artifacts run with a plain `node` (>= 20) and nothing else: no node_modules. Paths inside
 * mirror dist/ so the systemd units, the drill and the benchmark run the same files in a checkout.
 * Tarballs are reproducible (sorted, mtime 0, root-owned, portable headers).
 */
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tar from 'tar';

const repo = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8'));

/** Files of each artifact, relative to the repository (folders taken whole). */
export const ARTIFACTS = {
  'ssr-recovery-router.tgz': [
    'dist/router-agent/router-agent.cjs',
    'dist/router-agent/router-agent.cjs.map',
    'dist/router-agent/router-agent-config.cjs',
  ],
  'ssr-recovery-conductor.tgz': [
    'dist/conductor-agent/bundle',
    'dist/router-agent/router-agent.cjs',
    'dist/router-agent/router-agent.cjs.map',
    'dist/router-agent/router-agent-config.cjs',
  ],
};

function walk(path) {
  return statSync(path).isDirectory()
    ? readdirSync(path)
        .sort()
        .flatMap((f) => walk(join(path, f)))
    : [path];
}

/** The artifact's package.json: ESM for the bundle's .js files, no dependencies to install. */
function artifactPackageJson(name) {
  const doc = {
    name,
    version: pkg.version,
    description: pkg.description,
    license: pkg.license,
    private: true,
    type: 'module',
    engines: pkg.engines,
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

async function artifact(out, file, members, stage) {
  const root = join(stage, file.replace(/\.tgz$/, ''));
  const top = join(root, 'package');
  for (const m of members) {
    if (!existsSync(join(repo, m))) throw new Error(`${m} is missing: run npm run build first`);
    for (const f of walk(join(repo, m))) {
      const dest = join(top, relative(repo, f));
      mkdirSync(dirname(dest), { recursive: true });
      cpSync(f, dest, { preserveTimestamps: false });
    }
  }
  writeFileSync(join(top, 'package.json'), artifactPackageJson(file.replace(/\.tgz$/, '')));
  const entries = walk(top).map((f) => relative(root, f));
  const target = join(out, 'salt/ssr_recovery/files', file);
  await tar.c(
    {
      gzip: { level: 9 },
      file: target,
      cwd: root,
      portable: true,
      noMtime: false,
      mtime: new Date(0),
      noDirRecurse: true,
    },
    entries,
  );
  // archive.extracted's source_hash (+ source_hash_update): an upgraded artifact is unpacked again.
  const sum = createHash('sha256').update(readFileSync(target)).digest('hex');
  writeFileSync(`${target}.sha256`, `${sum}  ${file}\n`);
  return { file: relative(out, target), entries: entries.length };
}

/** Assemble the release into `out` (default release/); returns the files made, relative to `out`. */
export async function buildRelease(out = join(repo, 'release')) {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(join(out, 'salt'), { recursive: true });
  cpSync(join(repo, 'salt-states'), join(out, 'salt'), { recursive: true });
  rmSync(join(out, 'salt/README.md'));
  const stage = join(out, '.stage');
  const made = [];
  for (const [file, members] of Object.entries(ARTIFACTS)) made.push(await artifact(out, file, members, stage));
  rmSync(stage, { recursive: true, force: true });
  const bundle = join(out, `ssr-recovery-salt-${pkg.version}.tar.gz`);
  const saltFiles = walk(join(out, 'salt')).map((f) => relative(out, f));
  await tar.c(
    { gzip: { level: 9 }, file: bundle, cwd: out, portable: true, mtime: new Date(0), noDirRecurse: true },
    saltFiles,
  );
  return { artifacts: made, salt: { file: relative(out, bundle), files: saltFiles.length } };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  // `--out DIR` (tests): assemble elsewhere than release/.
  const at = process.argv.indexOf('--out');
  const outDir = at > 0 ? process.argv[at + 1] : join(repo, 'release');
  const made = await buildRelease(outDir);
  for (const m of made.artifacts) console.log(`${join(outDir, m.file)}: ${m.entries} files`);
  const salt = join(outDir, 'salt');
  console.log(`${join(outDir, made.salt.file)}: ${salt} (${made.salt.files} files) for the master's /srv/salt`);
}
