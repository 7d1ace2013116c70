/**
 * Preflight of the target, before anything is staged or changed: it is an initialised SSR
 * conductor (global.init, local.init), the archive's node is this node (or `--node` says
 * otherwise), there is room for staging, and the state of 128T (and salt-master) is known.
 */
import { promises as fsp } from 'node:fs';
import { dirname } from 'node:path';
import { underRoot } from '../../shared/config/schema.js';
import type { ServiceControl } from '../../shared/ports/service-control.js';
import { CONDUCTOR_FILES, type GlobalInit, type LocalInit } from '../../shared/ssr/layout.js';
import type { Peek } from './peek.js';
import type { Finding } from './types.js';

export interface PreflightInput {
  root: string;
  peek: Peek;
  services: readonly ServiceControl[];
  /** Journal folder under the root (staging goes there). */
  journalDir: string;
  acceptNode: string | undefined;
  /** Free bytes on the file system holding `path`. */
  freeBytes: (path: string) => Promise<number>;
}

export interface PreflightResult {
  findings: Finding[];
  targetNode: string | undefined;
  servicesActive: { name: string; wasActive: boolean }[];
}

/** Free bytes for unprivileged use on the file system of `path` (statfs). */
export async function statfsFreeBytes(path: string): Promise<number> {
  const s = await fsp.statfs(path);
  return s.bavail * s.bsize;
}

async function nearestExisting(p: string): Promise<string> {
  for (let d = p; ; d = dirname(d)) {
    try {
      await fsp.access(d);
      return d;
    } catch {
      if (d === dirname(d)) return d;
    }
  }
}

export async function preflightTarget(input: PreflightInput): Promise<PreflightResult> {
  const findings: Finding[] = [];
  const { peek } = input;
  findings.push(
    peek.manifest
      ? {
          check: 'archive.format',
          level: 'ok',
          summary: `manifest format ${peek.manifest.formatVersion} from ${peek.manifest.product.name} ${peek.manifest.product.version}, node ${peek.manifest.node}, made ${peek.manifest.createdAt}`,
        }
      : {
          check: 'archive.format',
          level: 'warn',
          summary:
            'UNVERIFIED ARCHIVE: no ssr-recovery manifest (made by hand with tar -czf?); member hashes cannot be checked',
        },
  );
  if (peek.encrypted)
    findings.push({
      check: 'archive.encryption',
      level: 'ok',
      summary: 'age-encrypted archive decrypts with the given identity',
    });

  let initialised = true;
  try {
    JSON.parse(await fsp.readFile(underRoot(input.root, CONDUCTOR_FILES.globalInit), 'utf8')) as GlobalInit;
    findings.push({
      check: 'target.initialised',
      level: 'ok',
      summary: 'global.init present: this is an initialised SSR node',
    });
  } catch (err) {
    initialised = false;
    findings.push({
      check: 'target.initialised',
      level: 'fail',
      code: 'RESTORE_PREFLIGHT',
      summary: `this node is not an initialised SSR conductor: ${CONDUCTOR_FILES.globalInit} ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'is missing' : 'does not parse'} (run initialize128t first)`,
    });
  }
  let targetNode: string | undefined;
  try {
    const l = JSON.parse(await fsp.readFile(underRoot(input.root, CONDUCTOR_FILES.localInit), 'utf8')) as LocalInit;
    targetNode = typeof l.init?.id === 'string' ? l.init.id : undefined;
  } catch {
    targetNode = undefined;
  }
  if (initialised && targetNode === undefined && input.acceptNode === undefined) {
    findings.push({
      check: 'target.node',
      level: 'fail',
      code: 'RESTORE_PREFLIGHT',
      summary: `${CONDUCTOR_FILES.localInit} is missing or has no init.id: cannot tell which node this is (pass --node to say)`,
    });
  }
  const archiveNode = peek.manifest?.node;
  if (
    archiveNode !== undefined &&
    input.acceptNode === undefined &&
    targetNode !== undefined &&
    archiveNode !== targetNode
  ) {
    findings.push({
      check: 'node.identity',
      level: 'fail',
      code: 'RESTORE_PREFLIGHT',
      summary: `the archive is of node ${archiveNode}, this node is ${targetNode} (local.init); pass --node ${archiveNode} if this node is to become it`,
    });
  }

  const need = Math.ceil(peek.expandedEstimate * 1.05) + 64 * 1024 ** 2;
  const where = await nearestExisting(input.journalDir);
  try {
    const free = await input.freeBytes(where);
    findings.push(
      free >= need
        ? {
            check: 'disk.space',
            level: 'ok',
            summary: `${fmt(free)} free for staging, ${fmt(need)} needed`,
            details: { free, need, where },
          }
        : {
            check: 'disk.space',
            level: 'fail',
            code: 'RESTORE_PREFLIGHT',
            summary: `not enough disk space: ${fmt(free)} free on ${where}, ${fmt(need)} needed for staging`,
            details: { free, need, where },
          },
    );
  } catch (err) {
    findings.push({ check: 'disk.space', level: 'warn', summary: `free space unknown (${(err as Error).message})` });
  }

  const servicesActive: PreflightResult['servicesActive'] = [];
  for (const s of input.services) {
    try {
      const active = await s.isActive();
      servicesActive.push({ name: s.name, wasActive: active });
      findings.push({
        check: `service.${s.name}`,
        level: 'ok',
        summary: `${s.name} is ${active ? 'active (will be stopped, then started again)' : 'inactive (will be started after the restore)'}`,
      });
    } catch (err) {
      findings.push({
        check: `service.${s.name}`,
        level: 'fail',
        code: 'SERVICE_FAILED',
        summary: `the state of ${s.name} is unknown: ${(err as Error).message}`,
      });
    }
  }
  return { findings, targetNode, servicesActive };
}

const fmt = (n: number): string =>
  n >= 1024 ** 3 ? `${(n / 1024 ** 3).toFixed(1)} GiB` : `${(n / 1024 ** 2).toFixed(1)} MiB`;
