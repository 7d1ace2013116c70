/**
 * The router's facts, found from its files (reference/ssr.md §3.3, §5.1) and overridable through the
 * `minion.*`, `conductor.*`, `agent.*` and `services.minion.*` settings: minion id, minion config
 * and pki folders, log, service, the conductor-agent endpoints (both HA nodes from global.init)
 * and the pins (conductor-agent signing key(s), TLS certificate fingerprint(s)).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { ConfigError, type RecoveryError } from '../shared/errors.js';
import type { Loaded } from '../shared/config/load.js';
import type { RouterConfig } from '../shared/config/schema.js';
import { conductorHosts, ROUTER_FILES, type GlobalInit } from '../shared/ssr/layout.js';
import { AGENT_WS_PATH } from '../shared/protocol/messages.js';
import { loadPublicKeys, normaliseCertFingerprint } from '../shared/protocol/signing-keys.js';
import { commandServiceControl, type ServiceControl } from '../shared/ports/service-control.js';
import { minionConfigPaths, topLevelScalars, type MinionConfigPaths } from './minion/config-files.js';

export interface RouterFacts {
  minionId: string;
  config: MinionConfigPaths;
  pkiDir: string;
  logFile: string;
  stateDir: string;
  /** wss URLs of the conductor-agent on each conductor node. */
  conductorUrls: string[];
  /** Pinned conductor-agent signing keys; empty with `pinProblem` when not configured. */
  conductorKeys: KeyObject[];
  /** Pinned TLS certificate fingerprints (lowercase hex). */
  certFingerprints: string[];
  /** Why the agent channel cannot be used (missing pins), if so. */
  pinProblem?: string | undefined;
  saltCall: string;
  service: ServiceControl;
  /** The router's sshd host key folder (reported so the SSH fallback can pin them). */
  sshHostKeyDir?: string | undefined;
}

function readText(p: string): string | undefined {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return undefined;
  }
}

/** Minion id: `minion.id`, else `<configDir>/minion_id`, else `id:` in the minion config. */
export function findMinionId(config: RouterConfig, configDir: MinionConfigPaths): string {
  if (config.minion.id) return config.minion.id;
  const fromFile = readText(join(configDir.configDir, 'minion_id'))?.trim();
  if (fromFile) return fromFile;
  const fromConfig = topLevelScalars(readText(configDir.mainFile) ?? '').get('id');
  if (fromConfig) return fromConfig;
  throw new ConfigError('CONFIG_MISSING', 'cannot find the minion id', {
    hint: `Set minion.id, or check ${join(configDir.configDir, 'minion_id')} exists (it holds the asset id on SSR routers).`,
  });
}

/** `host`, `host:port`, `[v6]:port` → wss URL. */
export function agentUrl(address: string, defaultPort: number): string {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(address) ?? /^([^:]+)(?::(\d+))?$/.exec(address);
  if (!m) return `wss://[${address}]:${defaultPort}${AGENT_WS_PATH}`; // bare IPv6
  const host = address.startsWith('[') ? `[${m[1]}]` : m[1]!;
  return `wss://${host}:${m[2] ?? defaultPort}${AGENT_WS_PATH}`;
}

export function resolveRouterFacts(loaded: Loaded<RouterConfig>): RouterFacts {
  const c = loaded.config;
  const config = minionConfigPaths(loaded.path(c.minion.configDir));
  const minionId = findMinionId(c, config);
  let addresses = c.conductor.addresses;
  if (addresses.length === 0) {
    const text = readText(loaded.path(ROUTER_FILES.globalInit));
    if (text) {
      try {
        addresses = conductorHosts(JSON.parse(text) as GlobalInit);
      } catch {
        throw new ConfigError('CONFIG_INVALID', `${loaded.path(ROUTER_FILES.globalInit)} is not valid JSON`, {
          hint: 'Set conductor.addresses instead.',
        });
      }
    }
  }
  let conductorKeys: KeyObject[] = [];
  let pinProblem: string | undefined;
  const keySetting = c.conductor.agentPublicKey;
  if (!keySetting) pinProblem = 'conductor.agentPublicKey is not set (the salt state installs it)';
  else {
    const text = keySetting.includes('-----BEGIN') ? keySetting : readText(loaded.path(keySetting));
    if (text === undefined) pinProblem = `cannot read conductor.agentPublicKey file ${loaded.path(keySetting)}`;
    else {
      try {
        conductorKeys = loadPublicKeys(text, 'conductor.agentPublicKey');
      } catch (err) {
        pinProblem = (err as RecoveryError).message;
      }
    }
  }
  const certFingerprints = (c.conductor.certFingerprint ?? '')
    .split(/[,\s]+/)
    .filter(Boolean)
    .map(normaliseCertFingerprint);
  if (!pinProblem && certFingerprints.length === 0)
    pinProblem = 'conductor.certFingerprint is not set (the salt state installs it)';
  if (!pinProblem && addresses.length === 0)
    pinProblem = 'no conductor address: set conductor.addresses or check global.init';
  return {
    minionId,
    config,
    pkiDir: loaded.path(c.minion.pkiDir),
    logFile: loaded.path(c.minion.logFile),
    stateDir: loaded.path(c.agent.stateDir),
    conductorUrls: addresses.map((a) => agentUrl(a, c.conductor.port)),
    conductorKeys,
    certFingerprints,
    pinProblem,
    saltCall: c.agent.saltCall,
    sshHostKeyDir: loaded.path('/etc/ssh'),
    service: commandServiceControl({ name: 'salt-minion', unit: c.minion.service, commands: c.services.minion ?? {} }),
  };
}
