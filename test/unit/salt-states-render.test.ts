// Every command a state, an orchestration, a reactor or a unit runs is one the CLI accepts (issue
// 11): render every .sls (and the unit and config templates, with the context the states pass them)
// with pillar.example and variations (empty pillar, HA pair, hostile values), split each
// conductor-agent / router-agent command line as Salt's cmd.run(python_shell=False) does, and parse
// it with the real commander program, failing on unknown options. Nothing is executed.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { fastRouterConfig } from '../../router-agent/config.js';
import { validateConductorConfig, validateRouterConfig } from '../../shared/config/validate.js';
import {
  allSls,
  cliOf,
  formulaRoot,
  parseSls,
  parseWithRealCli,
  render,
  shlexSplit,
  strings,
  type RenderJob,
} from '../helpers/salt-render.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
type Obj = Record<string, unknown>;
const example = parseYaml(readFileSync(join(formulaRoot, 'pillar.example'), 'utf8')) as Obj;

function merged(base: Obj, over: Obj): Obj {
  const out: Obj = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b)
        ? merged(b as Obj, v as Obj)
        : v;
  }
  return out;
}

const PILLARS: Record<string, Obj> = {
  example,
  // Nothing set: the defaults, an empty router list (--all), no migration target.
  empty: {},
  'empty lists': merged(example, {
    ssr_recovery_reauth: { routers: [], rate: null, concurrency: null },
    ssr_recovery: {
      router: { conductor_addresses: [] },
      conductor: { backup: { extra_paths: [], encrypt_recipients: [] } },
    },
  }),
  'HA pair, timer, no package': merged(example, {
    ssr_recovery: {
      node: { pkg: '', bin: '/opt/node20/bin/node' },
      conductor: { backup: { timer: '*-*-* 02:30:00' } },
    },
    ssr_recovery_reauth: { routers: ['dc1-*', 'branch-?'], rate: '10/s', dry_run: true, resume: true },
    ssr_recovery_migrate: { to: ['192.0.2.10', '192.0.2.11'], from: '192.0.2.1', dry_run: true, resume: true },
  }),
};
const GRAINS = [{ '128t_role': 'conductor' }, { '128t_role': 'router' }];
const REACTOR_DATA: Obj[] = [
  { id: 'router-1', act: 'pend', pub: '-----BEGIN PUBLIC KEY-----', result: true },
  { id: 'router-1', act: 'accept', pub: 'x', result: true },
];

interface Found {
  source: string;
  at: string;
  line: string;
}

/** Render everything for one pillar; returns the rendered docs and the command lines in them. */
function renderAll(pillar: Obj): { docs: Map<string, Obj>; errors: string[]; commands: Found[] } {
  const jobs: RenderJob[] = [];
  for (const sls of allSls()) {
    if (sls.startsWith('reactor/')) {
      for (const [i, data] of REACTOR_DATA.entries())
        jobs.push({ path: sls, context: { data, tag: 'salt/auth' }, grains: { i } });
    } else for (const grains of GRAINS) jobs.push({ path: sls, pillar, grains });
  }
  const docs = new Map<string, Obj>();
  const errors: string[] = [];
  const found: Found[] = [];
  const results = render(jobs);
  const templates: RenderJob[] = [];
  results.forEach((r, i) => {
    const key = `${r.path} ${JSON.stringify(jobs[i]!.grains)}`;
    if (r.error !== undefined) {
      errors.push(`${key}: ${r.error}`);
      return;
    }
    const doc = parseSls(r.text) as Obj;
    docs.set(key, doc);
    for (const s of strings(doc)) found.push({ source: key, at: s.at, line: s.value });
    for (const [id, state] of Object.entries(doc)) templates.push(...templateJobs(id, state));
  });
  for (const [i, r] of render(templates).entries()) {
    if (r.error !== undefined) errors.push(`${r.path}: ${r.error}`);
    else {
      const at = templates[i]!.path;
      for (const m of r.text.matchAll(/^ExecStart=(.*)$/gm)) found.push({ source: r.path, at, line: m[1]! });
    }
  }
  return { docs, errors, commands: found };
}

/** file.managed states rendering one of our templates: render it with the context the state passes. */
function templateJobs(id: string, state: unknown): RenderJob[] {
  const args = Object.values(state as Obj).find(Array.isArray) as Obj[] | undefined;
  const arg = (k: string) => args?.find((a) => a && typeof a === 'object' && k in a)?.[k];
  const source = arg('source');
  if (typeof source !== 'string' || arg('template') !== 'jinja') return [];
  void id;
  return [{ path: source.replace(/^salt:\/\//, ''), context: arg('context') as Obj }];
}

/** The command lines that run one of our CLIs, split as Salt splits them. */
function cliCommands(found: Found[]) {
  const lines = found.filter((f) => /(conductor-agent|router-agent)/.test(f.line) && !/^#!|\n/.test(f.line));
  const argvs = shlexSplit(lines.map((f) => f.line));
  return lines.flatMap((f, i) => {
    const hit = cliOf(argvs[i]!);
    // A bare path (file.absent of a wrapper) is not a command line.
    return hit?.args.length ? [{ ...f, ...hit }] : [];
  });
}

const rendered = Object.fromEntries(Object.entries(PILLARS).map(([name, p]) => [name, renderAll(p)]));

describe('salt-states rendered as Salt renders them, every command parsed by the real CLI', function () {
  this.timeout(30_000);

  for (const [name, r] of Object.entries(rendered)) {
    describe(`pillar: ${name}`, () => {
      it('every .sls and template renders and is YAML', () => {
        assert.deepEqual(r.errors, []);
        assert.ok(r.docs.size >= allSls().length);
      });
      const cmds = cliCommands(r.commands);
      it('renders conductor-agent and router-agent command lines', () => {
        assert.ok(cmds.some((c) => c.cli === 'conductor-agent'));
        assert.ok(cmds.some((c) => c.cli === 'router-agent') || name === 'empty');
      });
      const seen = new Set<string>();
      for (const c of cmds) {
        const label = `${c.cli} ${c.args.join(' ')}`;
        if (seen.has(label)) continue;
        seen.add(label);
        it(`parses: ${label.slice(0, 110)}  (${c.source.split(' ')[0]})`, async () => {
          const parsed = await parseWithRealCli(c.cli, c.args);
          assert.equal(
            parsed.command[0],
            c.args.find((a) => !a.startsWith('-')),
          );
        });
      }
    });
  }

  it('empty router list re-authenticates every enrolled router (--all), a list names them (--routers)', () => {
    const reauth = (n: string) => cliCommands(rendered[n]!.commands).filter((c) => c.args[0] === 'reauth');
    assert.ok(reauth('empty').every((c) => c.args.includes('--all') && !c.args.includes('--routers')));
    assert.ok(reauth('empty').length > 0);
    const ha = reauth('HA pair, timer, no package').find((c) => c.source.startsWith('orch/reauth.sls'))!.args;
    assert.deepEqual(ha.slice(ha.indexOf('--routers')), ['--routers', 'dc1-*', 'branch-?']);
    assert.deepEqual(ha.slice(ha.indexOf('--rate'), ha.indexOf('--rate') + 2), ['--rate', '10/s']);
  });

  it('estate orchestration: every conductor plans (--dry-run) before any wave, PODs in batches, hostile values refused', async () => {
    const doc = (pillar: Obj) => {
      const [r] = render([{ path: 'orch/estate-reauth.sls', pillar, grains: { '128t_role': 'master' } }]);
      assert.equal(r!.error, undefined, r!.error);
      return parseSls(r!.text!) as Record<string, { 'salt.function'?: Obj[] }>;
    };
    const arg = (state: { 'salt.function'?: Obj[] } | undefined, k: string) =>
      state?.['salt.function']?.find((a) => k in a)?.[k];
    const argv = (state: { 'salt.function'?: Obj[] } | undefined) => shlexSplit(arg(state, 'arg') as string[])[0]!;
    const d = doc(example);
    assert.deepEqual(Object.keys(d), ['ssr_recovery_estate_plan', 'ssr_recovery_estate_wave']);
    const plan = argv(d.ssr_recovery_estate_plan);
    const wave = argv(d.ssr_recovery_estate_wave);
    assert.ok(plan.includes('--dry-run') && plan.includes('--all') && plan.includes('--json'));
    assert.ok(!wave.includes('--dry-run') && wave.includes('--all'));
    assert.deepEqual(wave.slice(wave.indexOf('--rate'), wave.indexOf('--rate') + 2), ['--rate', '20/s']);
    assert.equal(arg(d.ssr_recovery_estate_wave, 'batch'), '4');
    assert.deepEqual(arg(d.ssr_recovery_estate_wave, 'require'), [{ salt: 'ssr_recovery_estate_plan' }]);
    assert.equal(arg(d.ssr_recovery_estate_wave, 'tgt'), '128t_role:conductor');
    for (const a of [plan, wave])
      assert.equal((await parseWithRealCli('conductor-agent', a.slice(1))).command[0], 'reauth');
    const resumed = doc({ ssr_recovery_estate: { routers: ['dc1-*'], resume: true, plan_first: false } });
    assert.deepEqual(Object.keys(resumed), ['ssr_recovery_estate_wave']);
    const r = argv(resumed.ssr_recovery_estate_wave);
    assert.ok(r.includes('--resume') && r.includes('dc1-*') && !r.includes('--all'));
    assert.equal(arg(resumed.ssr_recovery_estate_wave, 'batch'), undefined);
    assert.deepEqual(Object.keys(doc({ ssr_recovery_estate: { dry_run: true } })), ['ssr_recovery_estate_plan']);
    const hostile = doc({
      ssr_recovery_estate: { routers: ['x; reboot'], pods_at_once: 0, conductors: "c1' ; id", conductors_type: 'x' },
    });
    assert.deepEqual(Object.keys(hostile), ['ssr_recovery_estate_pillar_invalid']);
    assert.match(
      JSON.stringify(hostile),
      /is not a minion id glob.*pods_at_once must be.*conductors must be a Salt target.*conductors_type must be/,
    );
  });

  it('the wrappers on the PATH and the units run the files the artifacts install', () => {
    const scripts = new Set<string>();
    for (const r of Object.values(rendered)) {
      for (const f of r.commands) {
        for (const m of f.line.matchAll(/\/opt\/ssr-recovery\/(\S+?\.c?js)\b/g)) scripts.add(m[1]!);
      }
    }
    const expected = ['dist/conductor-agent/bundle/conductor-agent.js', 'dist/router-agent/router-agent.cjs'];
    assert.deepEqual([...scripts].sort(), expected);
    for (const s of scripts) assert.ok(existsSync(join(repo, s)), `${s} is built`);
  });

  it('refuses at render time: no router pins, no migration target, a value not a glob/address/number', () => {
    const empty = rendered.empty!.docs;
    const get = (sls: string, grain = 'router') => empty.get(`${sls} {"128t_role":"${grain}"}`)!;
    assert.ok('ssr_recovery_router_pillar_invalid' in get('ssr_recovery/router/install.sls'));
    assert.ok('ssr_recovery_migrate_pillar_invalid' in get('orch/migrate.sls'));
    const hostile = renderAll(
      merged(example, {
        ssr_recovery_reauth: { routers: ['router-1; rm -rf /'], rate: 'fast' },
        ssr_recovery_migrate: { to: ['a', 'b', 'c'] },
        ssr_recovery: {
          prefix: 'relative/path',
          node: { bin: '/usr/bin/node; id' },
          router: { conductor_addresses: 'x' },
        },
      }),
    );
    assert.deepEqual(hostile.errors, []);
    const h = (sls: string) => hostile.docs.get(`${sls} {"128t_role":"conductor"}`)!;
    const reauthFail = JSON.stringify(h('orch/reauth.sls'));
    assert.match(reauthFail, /ssr_recovery_reauth_pillar_invalid.*is not a minion id glob.*rate must be/);
    assert.ok(!('ssr_recovery_reauth' in h('orch/reauth.sls')));
    assert.ok('ssr_recovery_migrate_pillar_invalid' in h('orch/migrate.sls'));
    assert.match(JSON.stringify(h('ssr_recovery/runtime.sls')), /prefix must be an absolute path.*node:bin must be/);
    // With the paths refused, the install renders nothing that would use them.
    assert.deepEqual(Object.keys(h('ssr_recovery/conductor/install.sls')), ['include']);
    const badAddr = renderAll(merged(example, { ssr_recovery: { router: { conductor_addresses: ['x y'] } } }));
    const router = badAddr.docs.get('ssr_recovery/router/install.sls {"128t_role":"router"}')!;
    assert.match(JSON.stringify(router.ssr_recovery_router_pillar_invalid), /x y is not a host or host:port/);
    assert.ok(!('ssr_recovery_router_config' in router));
  });

  it("the config files the states write are valid, and the router one takes the agent's fast start path", () => {
    for (const [name, r] of Object.entries(rendered)) {
      const configs = [...r.docs.values()]
        .flatMap((doc) => Object.entries(doc))
        .filter(([id]) => id === 'ssr_recovery_conductor_config' || id === 'ssr_recovery_router_config');
      const jobs = configs.flatMap(([id, state]) => templateJobs(id, state));
      for (const [i, out] of render(jobs).entries()) {
        assert.equal(out.error, undefined, out.error);
        const doc = JSON.parse(out.text!) as unknown;
        if (jobs[i]!.path.endsWith('router-agent.yaml.jinja')) {
          assert.ok(validateRouterConfig(doc).config, `${name}: ${validateRouterConfig(doc).errors.join('; ')}`);
          assert.ok(fastRouterConfig(doc), `${name}: the rendered router config must not need the canonical loader`);
        } else {
          const v = validateConductorConfig(doc);
          assert.ok(v.config, `${name}: ${v.errors.join('; ')}`);
        }
      }
      if (name !== 'empty') assert.equal(jobs.length >= 2, true, `${name}: both configs rendered`);
    }
  });

  it('auth-failure reactor: only pending keys, only plain minion ids, and always the verified accept', () => {
    const event = (data: Obj): RenderJob => ({ path: 'reactor/auth-failure.sls', context: { data, tag: 'salt/auth' } });
    const jobs: RenderJob[] = [
      event({ id: 'router-1', act: 'pend', pub: 'k' }),
      event({ id: "r1' --expect r1=x '", act: 'pend', pub: 'k' }),
      event({ id: 'router-1', act: 'pend', pub: 'k', cmd: '_minion_event' }),
    ];
    const [ok, hostileId, forged] = render(jobs).map((r) => parseSls(r.text!) as Obj);
    const cmd = cliCommands(strings(ok).map((s) => ({ source: 'reactor', at: s.at, line: s.value })));
    assert.equal(cmd.length, 1);
    assert.deepEqual(cmd[0]!.args, ['keys', 'accept', '--verified', '--json', '--minion', 'router-1']);
    assert.deepEqual(hostileId, {});
    assert.deepEqual(forged, {});
  });
});
