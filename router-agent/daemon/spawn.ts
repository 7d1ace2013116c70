/**
 * Run `router-agent daemon` as a child process and wait for its ready line: how the drill (and a
 * test) starts real router agents beside a simulated fleet. Works from the compiled tree and from
 * source (through tsx).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { RecoveryError } from '../../shared/errors.js';

export interface SpawnRouterAgentOptions {
  /** Root prefix of the router's files (`--root`). */
  root: string;
  /** Config file (default `<root>/etc/ssr-recovery/router-agent.yaml`). */
  configFile?: string;
  env?: NodeJS.ProcessEnv;
  /** Where the child's stderr (JSON log lines) goes; default: kept for `stderr()`. */
  onStderr?: (text: string) => void;
  readyTimeoutMs?: number;
}

/** The daemon's ready line (`router-agent daemon --json`). */
export interface RouterAgentReady {
  ready: true;
  minionId: string;
  trust: string;
  agentKeyFingerprint: string;
  conductors: string[];
  channel: string;
}

export interface SpawnedRouterAgent {
  child: ChildProcess;
  readyInfo: RouterAgentReady;
  /** Captured stderr (last 64 KiB). */
  stderr(): string;
  /** SIGTERM (or `signal`) and wait for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * argv running router-agent with `args`: from dist, the one-file bundle the systemd unit runs
 * (router-agent.cjs, built by `npm run build`; the tree's bin.js if it is missing); from source, bin.ts.
 */
export function routerAgentArgv(args: string[]): string[] {
  const fromSource = import.meta.url.endsWith('.ts');
  if (!fromSource) {
    const bundle = fileURLToPath(new URL('../router-agent.cjs', import.meta.url));
    return [
      process.execPath,
      existsSync(bundle) ? bundle : fileURLToPath(new URL('../bin.js', import.meta.url)),
      ...args,
    ];
  }
  const bin = fileURLToPath(new URL('../bin.ts', import.meta.url));
  const loader = pathToFileURL(
    join(dirname(createRequire(import.meta.url).resolve('tsx/package.json')), 'dist/loader.mjs'),
  ).href;
  return [process.execPath, '--import', loader, bin, ...args];
}

export async function spawnRouterAgent(o: SpawnRouterAgentOptions): Promise<SpawnedRouterAgent> {
  const [cmd, ...args] = routerAgentArgv([
    'daemon',
    '--json',
    '--root',
    o.root,
    ...(o.configFile ? ['--config', o.configFile] : []),
  ]);
  const child = spawn(cmd!, args, { stdio: ['ignore', 'pipe', 'pipe'], env: o.env ?? process.env });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err = (err + d).slice(-65_536);
    o.onStderr?.(d);
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const readyInfo = await new Promise<RouterAgentReady>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new RecoveryError('AGENT_TIMEOUT', `router-agent under ${o.root} did not get ready`, {
          details: { stderr: err.slice(-2000) },
        }),
      );
    }, o.readyTimeoutMs ?? 30_000);
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const line = out.split('\n').find((l) => l.includes('"ready":true'));
      if (line) {
        clearTimeout(timer);
        resolve(JSON.parse(line) as RouterAgentReady);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(
        new RecoveryError('SERVICE_FAILED', `router-agent under ${o.root} exited ${code} before it was ready`, {
          details: { stderr: err.slice(-2000) },
        }),
      );
    });
  });
  return {
    child,
    readyInfo,
    stderr: () => err,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}
