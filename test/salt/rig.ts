/**
 * Real Salt for the acceptance suite (`npm run test:salt`): one salt-master with the rest_cherrypy
 * salt-api (sharedsecret eauth) and N salt-minions on loopback, laid out under a fresh temp root the
 * way `../shared/salt/rig.sh` lays a rig out (master pki at `<root>/etc/128technology/salt/pki/master`
 * so `conductor-agent --root <root>` finds it; each minion under `<root>/routers/<id>/`, so
 * `router-agent --root <root>/routers/<id>` finds its config, pki and log).
 *
 * Salt is found (see {@link saltAvailable}) through `SALT_RIG=/path/to/rig.sh` (its `env` command lays
 * out bin wrappers over the Salt source it carries) or Salt's own commands on PATH. Every rig picks
 * its own loopback address and free ports, so rigs and test runs can run side by side; it signals
 * only processes whose pid files live under its own root and whose command line names that root.
 */
import { spawn, spawnSync } from 'node:child_process';
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { randomBytes, randomInt } from 'node:crypto';
import { parse, stringify } from 'yaml';
import { freePort } from '../../shared/net/free-port.js';

export interface Exec {
  code: number;
  stdout: string;
  stderr: string;
}
export interface ServiceCommandLines {
  start: string;
  stop: string;
  restart: string;
  isActive: string;
}

export interface Rig {
  /** Root prefix of the conductor side: `conductor-agent --root <root>`. */
  root: string;
  addr: string;
  apiUrl: string;
  apiUser: string;
  apiEauth: string;
  apiPasswordFile: string;
  publishPort: number;
  retPort: number;
  minionIds: string[];
  /** Folder holding the salt-* commands this rig runs. */
  binDir: string;
  /** Master config folder (`salt -c <masterConfigDir>`). */
  masterConfigDir: string;
  /** Router root prefix of one minion: `router-agent --root <minionRoot(id)>`. */
  minionRoot(id: string): string;
  /** Minion config folder (`<minionRoot>/etc/salt`). */
  minionConfigDir(id: string): string;
  /** `services.minion.{start,stop,restart,isActive}` command lines controlling this real minion. */
  minionServiceCommands(id: string): ServiceCommandLines;
  /** `services.salt-master.*` command lines controlling this rig's real master. */
  masterServiceCommands(): ServiceCommandLines;
  /** `agent.saltCall` command line for this minion (`salt-call -c <minionConfigDir>`). */
  saltCallCommand(id: string): string;
  salt(args: string[], timeoutMs?: number): Promise<Exec>;
  saltKey(args: string[], timeoutMs?: number): Promise<Exec>;
  saltRun(args: string[], timeoutMs?: number): Promise<Exec>;
  saltCall(id: string, args: string[], timeoutMs?: number): Promise<Exec>;
  /** Start the minion daemon (adds it to minionIds if new) and wait for its pid file. */
  startMinion(id: string): Promise<void>;
  /** SIGTERM the minion and wait until its pid is gone (a real minion takes ~6 s). */
  stopMinion(id: string): Promise<void>;
  /** pid of the running minion, if any. */
  minionPid(id: string): number | undefined;
  startMaster(): Promise<void>;
  stopMaster(): Promise<void>;
  restartMaster(): Promise<void>;
  startApi(): Promise<void>;
  stopApi(): Promise<void>;
  /**
   * SIGTERM salt-api and start a new one as soon as the old one stops listening. A real salt-api
   * asked to stop keeps running while an `/events` stream is open (it keeps serving it): that old
   * process is left running, as systemd would until its stop timeout, and killed by `stop()`.
   */
  restartApi(): Promise<void>;
  /** pids of salt-api processes left serving open streams after restartApi. */
  lingeringApiPids(): number[];
  /** Wait until every id answers `test.ping` through the master. */
  waitPing(ids: string[], timeoutMs: number): Promise<void>;
  /** Ids answering `test.ping` within `timeoutS`. */
  ping(ids: string[], timeoutS?: number): Promise<string[]>;
  /** Stop every daemon of this rig and remove its root (keep: leave the files for a post-mortem). */
  stop(o?: { keep?: boolean }): Promise<void>;
  /** Environment for children: the rig's salt-* commands first on PATH. */
  env: NodeJS.ProcessEnv;
}

export interface RigOptions {
  /** A count (router-1..N) or the ids. Default 2. */
  minions?: number | string[];
  /** YAML lines merged over the master config (e.g. `master_sign_pubkey: True`). */
  masterExtra?: string;
  /** YAML lines merged over every minion config. */
  minionExtra?: string;
  /** Loopback address; default a random 127.x.y.z in 127.200.0.0–127.254.255.254. */
  addr?: string;
  /** Do not start the minions (start them with startMinion). */
  noMinions?: boolean;
  /** Do not wait for the minions to answer test.ping. */
  noWait?: boolean;
}

const COMMANDS = ['salt-master', 'salt-minion', 'salt-api', 'salt-call', 'salt-key', 'salt-run', 'salt'] as const;
/** The python modules Salt needs: python-deps.json, shared with prepare.mjs (which installs them). */
const PY_MODULES: string[] = (
  JSON.parse(readFileSync(new URL('./python-deps.json', import.meta.url), 'utf8')) as {
    modules: { module?: string }[];
  }
).modules.flatMap((d) => (d.module ? [d.module] : []));
const API_USER = 'saltdev';
const HERE = new URL('.', import.meta.url).pathname;

function onPath(cmd: string): string | undefined {
  for (const d of (process.env.PATH ?? '').split(delimiter)) {
    if (!d) continue;
    const f = join(d, cmd);
    try {
      accessSync(f, constants.X_OK);
      return f;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

function missingPythonModules(): string[] {
  const r = spawnSync(
    '/usr/bin/python3',
    [
      '-c',
      `import importlib.util,sys
print(' '.join(m for m in sys.argv[1:] if importlib.util.find_spec(m) is None))`,
      ...PY_MODULES,
    ],
    { encoding: 'utf8', env: { ...process.env, PYTHONPATH: '' } },
  );
  if (r.status !== 0) return ['python3 (/usr/bin/python3 did not run)'];
  return r.stdout.trim().split(/\s+/).filter(Boolean);
}

/**
 * Whether real Salt can run here, and how: `SALT_RIG` naming an executable rig.sh (with Debian's
 * python3 and the python3-* packages Salt needs), or every Salt command on PATH.
 */
export function saltAvailable(): { ok: true; how: string } | { ok: false; why: string } {
  const rigSh = process.env.SALT_RIG;
  if (rigSh) {
    const f = resolve(rigSh);
    try {
      accessSync(f, constants.X_OK);
    } catch {
      return {
        ok: false,
        why:
          `SALT_RIG=${rigSh}: no executable rig.sh there (${f}); point SALT_RIG at rig.sh` +
          " (e.g. SALT_RIG=../shared/salt/rig.sh) or unset it and put Salt's commands on PATH",
      };
    }
    const missing = missingPythonModules();
    if (missing.length) {
      return {
        ok: false,
        why:
          `SALT_RIG=${rigSh}: /usr/bin/python3 lacks the modules Salt needs: ` +
          `${missing.join(', ')}` +
          ' (run `node test/salt/prepare.mjs` as root, or `rig.sh up` once, to apt-get install them)',
      };
    }
    return { ok: true, how: `SALT_RIG=${f}` };
  }
  const missing = COMMANDS.filter((c) => !onPath(c));
  if (missing.length === 0) return { ok: true, how: `Salt commands on PATH (${onPath('salt-master')})` };
  const none = missing.length === COMMANDS.length;
  return {
    ok: false,
    why:
      (none
        ? 'Salt not found: SALT_RIG is not set and no Salt command is on PATH'
        : `Salt incomplete: SALT_RIG is not set and PATH lacks ${missing.join(', ')}`) +
      '. Set SALT_RIG=/path/to/rig.sh (CI: SALT_RIG=../shared/salt/rig.sh) or install Salt so that ' +
      `${COMMANDS.join(', ')} are on PATH.`,
  };
}

let binDirOnce: { dir: string; layout?: string } | undefined;

/** Folder with the salt-* commands: PATH's, or rig.sh's wrappers laid out once per process. */
function saltBinDir(): string {
  if (binDirOnce) return binDirOnce.dir;
  const a = saltAvailable();
  if (!a.ok) throw new Error(a.why);
  const rigSh = process.env.SALT_RIG;
  if (!rigSh) {
    binDirOnce = { dir: resolve(onPath('salt-master')!, '..') };
    return binDirOnce.dir;
  }
  const layout = mkdtempSync(join(shortTmp(), 'ssrsb-'));
  const r = spawnSync(resolve(rigSh), ['env', layout], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${rigSh} env ${layout} failed (exit ${r.status}): ${r.stderr}`);
  binDirOnce = { dir: join(layout, 'bin'), layout };
  process.once('exit', () => {
    rmSync(layout, { recursive: true, force: true });
  });
  return binDirOnce.dir;
}

/** A temp folder short enough for Salt's unix sockets (sun_path is 108 bytes). */
function shortTmp(): string {
  const t = tmpdir();
  return t.length <= 20 ? t : '/tmp';
}

function randomLoopback(): string {
  return `127.${randomInt(200, 255)}.${randomInt(0, 256)}.${randomInt(1, 255)}`;
}

function run(argv: string[], env: NodeJS.ProcessEnv, timeoutMs = 120_000): Promise<Exec> {
  return new Promise((res) => {
    const child = spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      stderr += `\n(rig: killed after ${timeoutMs} ms)`;
    }, timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      res({ code: 127, stdout, stderr: stderr + String(e) });
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      res({ code: code ?? 128, stdout, stderr });
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Alive and not a zombie. */
export function pidAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX]/.test(stat);
  } catch {
    return false;
  }
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

/** pids whose parent chain leads to `pid` (a Salt daemon's worker processes). */
function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const e of spawnSync('ps', ['-e', '-o', 'pid=,ppid='], { encoding: 'utf8' }).stdout.split('\n')) {
    const [p, pp] = e.trim().split(/\s+/).map(Number);
    if (p && pp !== undefined) parent.set(p, pp);
  }
  const out: number[] = [];
  for (const p of parent.keys()) {
    let q = parent.get(p);
    for (let hops = 0; q && q > 1 && hops < 64; hops++, q = parent.get(q))
      if (q === pid) {
        out.push(p);
        break;
      }
  }
  return out;
}

/** A daemon started by this rig: its pid file and the text its command line must contain. */
interface Daemon {
  name: string;
  pidFile: string;
  argv: string[];
  owner: string;
}

function daemonPid(d: Daemon): number | undefined {
  if (!existsSync(d.pidFile)) return undefined;
  const pid = Number(readFileSync(d.pidFile, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 1 || !pidAlive(pid)) return undefined;
  // Never signal a process this rig did not start: a reused pid would not name our config folder.
  return cmdline(pid).includes(d.owner) ? pid : undefined;
}

async function startDaemon(d: Daemon, env: NodeJS.ProcessEnv): Promise<void> {
  if (daemonPid(d)) return;
  rmSync(d.pidFile, { force: true });
  const r = await run(d.argv, env, 60_000);
  if (r.code !== 0) throw new Error(`rig: ${d.name} did not start (exit ${r.code}): ${r.stderr.slice(-2000)}`);
  const end = Date.now() + 60_000;
  while (!daemonPid(d)) {
    if (Date.now() > end) throw new Error(`rig: ${d.name} wrote no pid file ${d.pidFile} within 60 s`);
    await sleep(100);
  }
}

async function stopDaemon(d: Daemon, timeoutMs = 30_000): Promise<void> {
  const pid = daemonPid(d);
  if (!pid) return;
  const kids = descendants(pid);
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    /* gone */
  }
  const end = Date.now() + timeoutMs;
  while (pidAlive(pid) && Date.now() < end) await sleep(100);
  const left = [pid, ...kids].filter((p) => pidAlive(p) && cmdline(p).includes(d.owner));
  for (const p of left) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  while ([pid, ...kids].some(pidAlive) && Date.now() < end + 5_000) await sleep(50);
}

function mergeYaml(base: Record<string, unknown>, extra?: string): string {
  const over = extra ? ((parse(extra) as Record<string, unknown> | null) ?? {}) : {};
  return stringify({ ...base, ...over });
}

function quote(a: string): string {
  return /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

function minionIdsOf(m: RigOptions['minions']): string[] {
  if (Array.isArray(m)) return [...m];
  return Array.from({ length: m ?? 2 }, (_, i) => `router-${i + 1}`);
}

/** Start a rig: master, salt-api and the minions; waits until every minion answers test.ping. */
export async function startRig(opts: RigOptions = {}): Promise<Rig> {
  const binDir = saltBinDir();
  const root = mkdtempSync(join(shortTmp(), 'ssrs-'));
  const addr = opts.addr ?? randomLoopback();
  const [publishPort, retPort, apiPort] = [await freePort(addr), await freePort(addr), await freePort(addr)];
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${binDir}${delimiter}${process.env.PATH ?? ''}` };
  const rig = new RealRig({ root, addr, publishPort, retPort, apiPort, binDir, env, opts });
  try {
    rig.layoutMaster();
    await rig.startMaster();
    await rig.startApi();
    for (const id of minionIdsOf(opts.minions)) {
      rig.layoutMinion(id);
      if (!opts.noMinions) await rig.startMinion(id);
    }
    if (!opts.noMinions && !opts.noWait) await rig.waitPing(rig.minionIds, 120_000);
  } catch (e) {
    await rig.stop({ keep: true });
    throw new Error(`${(e as Error).message}\n(rig root kept for a post-mortem: ${root})`);
  }
  return rig;
}

interface RigInit {
  root: string;
  addr: string;
  publishPort: number;
  retPort: number;
  apiPort: number;
  binDir: string;
  env: NodeJS.ProcessEnv;
  opts: RigOptions;
}

class RealRig implements Rig {
  readonly root: string;
  readonly addr: string;
  readonly apiUrl: string;
  readonly apiUser = API_USER;
  readonly apiEauth = 'sharedsecret';
  readonly apiPasswordFile: string;
  readonly publishPort: number;
  readonly retPort: number;
  readonly minionIds: string[] = [];
  readonly binDir: string;
  readonly masterConfigDir: string;
  readonly env: NodeJS.ProcessEnv;
  private readonly apiPort: number;
  private readonly opts: RigOptions;
  private readonly user = userInfo().username;
  private readonly lingering: number[] = [];

  constructor(i: RigInit) {
    this.root = i.root;
    this.addr = i.addr;
    this.publishPort = i.publishPort;
    this.retPort = i.retPort;
    this.apiPort = i.apiPort;
    this.binDir = i.binDir;
    this.env = i.env;
    this.opts = i.opts;
    this.apiUrl = `http://${i.addr}:${i.apiPort}`;
    this.apiPasswordFile = join(i.root, 'salt-api.password');
    this.masterConfigDir = join(i.root, 'etc/128technology/salt');
  }

  private bin(name: string): string {
    return join(this.binDir, name);
  }

  layoutMaster(): void {
    const r = this.root;
    for (const d of ['srv/salt', 'srv/pillar', 'etc/128technology/salt']) mkdirSync(join(r, d), { recursive: true });
    const secret = `rig-${randomBytes(8).toString('hex')}`;
    writeFileSync(this.apiPasswordFile, secret, { mode: 0o600 });
    writeFileSync(
      join(this.masterConfigDir, 'master'),
      mergeYaml(
        {
          root_dir: r,
          pki_dir: '/etc/128technology/salt/pki/master',
          user: this.user,
          interface: this.addr,
          publish_port: this.publishPort,
          ret_port: this.retPort,
          auto_accept: true,
          worker_threads: 2,
          file_roots: { base: [join(r, 'srv/salt')] },
          pillar_roots: { base: [join(r, 'srv/pillar')] },
          netapi_enable_clients: [
            'local',
            'local_async',
            'local_batch',
            'runner',
            'runner_async',
            'wheel',
            'wheel_async',
          ],
          sharedsecret: secret,
          external_auth: { sharedsecret: { [API_USER]: ['.*', '@wheel', '@runner', '@jobs'] } },
          rest_cherrypy: { port: this.apiPort, host: this.addr, disable_ssl: true },
        },
        this.opts.masterExtra,
      ),
    );
  }

  layoutMinion(id: string): void {
    if (!/^[\w.-]+$/.test(id)) throw new Error(`rig: minion id ${JSON.stringify(id)} is not a plain name`);
    const cfg = this.minionConfigDir(id);
    mkdirSync(join(cfg, 'minion.d'), { recursive: true });
    if (!this.minionIds.includes(id)) this.minionIds.push(id);
    if (existsSync(join(cfg, 'minion'))) return;
    writeFileSync(
      join(cfg, 'minion'),
      mergeYaml(
        {
          id,
          master: this.addr,
          master_port: this.retPort,
          root_dir: this.minionRoot(id),
          user: this.user,
          acceptance_wait_time: 2,
          random_reauth_delay: 1,
        },
        this.opts.minionExtra,
      ),
    );
  }

  minionRoot(id: string): string {
    return join(this.root, 'routers', id);
  }
  minionConfigDir(id: string): string {
    return join(this.minionRoot(id), 'etc/salt');
  }

  private master(): Daemon {
    return {
      name: 'salt-master',
      pidFile: join(this.root, 'var/run/salt-master.pid'),
      owner: this.masterConfigDir,
      argv: [this.bin('salt-master'), '-c', this.masterConfigDir, '-d'],
    };
  }
  private api(): Daemon {
    return {
      name: 'salt-api',
      pidFile: join(this.root, 'var/run/salt-api.pid'),
      owner: this.masterConfigDir,
      argv: [this.bin('salt-api'), '-c', this.masterConfigDir, '-d'],
    };
  }
  private minion(id: string): Daemon {
    const cfg = this.minionConfigDir(id);
    return {
      name: `salt-minion ${id}`,
      pidFile: join(this.minionRoot(id), 'var/run/salt-minion.pid'),
      owner: cfg,
      argv: [this.bin('salt-minion'), '-c', cfg, '-d'],
    };
  }

  private serviceCommands(d: Daemon, bin: string, cfg: string): ServiceCommandLines {
    const svc = join(HERE, 'salt-service.mjs');
    const line = (verb: string): string => [process.execPath, svc, verb, d.pidFile, bin, cfg].map(quote).join(' ');
    return { start: line('start'), stop: line('stop'), restart: line('restart'), isActive: line('is-active') };
  }
  minionServiceCommands(id: string): ServiceCommandLines {
    return this.serviceCommands(this.minion(id), this.bin('salt-minion'), this.minionConfigDir(id));
  }
  masterServiceCommands(): ServiceCommandLines {
    return this.serviceCommands(this.master(), this.bin('salt-master'), this.masterConfigDir);
  }

  saltCallCommand(id: string): string {
    return [this.bin('salt-call'), '-c', this.minionConfigDir(id)].map(quote).join(' ');
  }

  private onMaster(cmd: string, args: string[], t?: number): Promise<Exec> {
    return run([this.bin(cmd), '-c', this.masterConfigDir, ...args], this.env, t);
  }
  salt(args: string[], t?: number): Promise<Exec> {
    return this.onMaster('salt', args, t);
  }
  saltKey(args: string[], t?: number): Promise<Exec> {
    return this.onMaster('salt-key', args, t);
  }
  saltRun(args: string[], t?: number): Promise<Exec> {
    return this.onMaster('salt-run', args, t);
  }
  saltCall(id: string, args: string[], t?: number): Promise<Exec> {
    return run([this.bin('salt-call'), '-c', this.minionConfigDir(id), ...args], this.env, t);
  }

  async startMinion(id: string): Promise<void> {
    this.layoutMinion(id);
    await startDaemon(this.minion(id), this.env);
  }
  async stopMinion(id: string): Promise<void> {
    await stopDaemon(this.minion(id));
    if (this.minionPid(id)) throw new Error(`rig: salt-minion ${id} is still running after SIGTERM and SIGKILL`);
  }
  minionPid(id: string): number | undefined {
    return daemonPid(this.minion(id));
  }

  async startMaster(): Promise<void> {
    await startDaemon(this.master(), this.env);
    await this.waitPort(this.retPort, 'salt-master ret_port');
  }
  async stopMaster(): Promise<void> {
    await stopDaemon(this.master());
  }
  async restartMaster(): Promise<void> {
    await this.stopMaster();
    await this.startMaster();
  }

  async startApi(): Promise<void> {
    await startDaemon(this.api(), this.env);
    const end = Date.now() + 60_000;
    for (;;) {
      try {
        const r = await fetch(`${this.apiUrl}/`, { signal: AbortSignal.timeout(2_000) });
        if (r.ok) return;
      } catch {
        /* not up yet */
      }
      if (Date.now() > end) {
        throw new Error(`rig: salt-api did not answer at ${this.apiUrl} (see ${this.root}/var/log/salt/api)`);
      }
      await sleep(250);
    }
  }
  async stopApi(): Promise<void> {
    await stopDaemon(this.api());
  }
  async restartApi(): Promise<void> {
    const d = this.api();
    const pid = daemonPid(d);
    if (pid) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        /* gone */
      }
      const end = Date.now() + 30_000;
      while (pidAlive(pid) && (await this.listening(this.apiPort))) {
        if (Date.now() > end) throw new Error(`rig: salt-api ${pid} still listening 30 s after SIGTERM`);
        await sleep(100);
      }
      if (pidAlive(pid)) this.lingering.push(pid, ...descendants(pid));
      rmSync(d.pidFile, { force: true });
    }
    await this.startApi();
  }
  lingeringApiPids(): number[] {
    return this.lingering.filter(pidAlive);
  }

  private listening(port: number): Promise<boolean> {
    return new Promise<boolean>((res) => {
      const s = connect({ host: this.addr, port }, () => {
        s.destroy();
        res(true);
      });
      s.once('error', () => res(false));
    });
  }

  private async waitPort(port: number, what: string): Promise<void> {
    const end = Date.now() + 60_000;
    for (;;) {
      if (await this.listening(port)) return;
      if (Date.now() > end) {
        throw new Error(`rig: ${what} ${this.addr}:${port} not listening (see ${this.root}/var/log/salt/master)`);
      }
      await sleep(200);
    }
  }

  async ping(ids: string[], timeoutS = 5): Promise<string[]> {
    const r = await this.salt([
      '-L',
      ids.join(','),
      'test.ping',
      '--timeout',
      String(timeoutS),
      '--out',
      'json',
      '--static',
    ]);
    try {
      const o = JSON.parse(r.stdout || '{}') as Record<string, unknown>;
      return ids.filter((id) => o[id] === true);
    } catch {
      return [];
    }
  }

  async waitPing(ids: string[], timeoutMs: number): Promise<void> {
    const end = Date.now() + timeoutMs;
    let got: string[] = [];
    while (Date.now() < end) {
      got = await this.ping(ids, 5);
      if (ids.every((id) => got.includes(id))) return;
      await sleep(500);
    }
    const missing = ids.filter((id) => !got.includes(id));
    throw new Error(`rig: ${missing.join(', ')} did not answer test.ping within ${timeoutMs} ms (rig ${this.root})`);
  }

  async stop(o: { keep?: boolean } = {}): Promise<void> {
    await Promise.all(this.minionIds.map((id) => stopDaemon(this.minion(id)).catch(() => undefined)));
    await stopDaemon(this.api()).catch(() => undefined);
    for (const p of this.lingering) {
      if (!pidAlive(p) || !cmdline(p).includes(this.masterConfigDir)) continue;
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await stopDaemon(this.master()).catch(() => undefined);
    if (!o.keep && !process.env.SALT_RIG_KEEP) await rm(this.root, { recursive: true, force: true });
  }
}
