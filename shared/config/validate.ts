/**
 * Pure validation: unknown input → {config, warnings, errors}. No I/O here; `load.ts` reads files
 * and the environment. Cross-field checks are small named rules.
 */
import type { z } from 'zod';
import { conductorSchema, routerSchema, type ConductorConfig, type RouterConfig } from './schema.js';

export interface ValidationResult<T> {
  config: T | undefined;
  warnings: string[];
  errors: string[];
}

type Rule<T> = { name: string; check: (c: T) => string | undefined; level: 'error' | 'warning' };

const isLoopbackHost = (host: string): boolean =>
  host === 'localhost' || host === '[::1]' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);

export const conductorRules: Rule<ConductorConfig>[] = [
  {
    name: 'plain-http-only-on-loopback',
    level: 'error',
    check: (c) => {
      const u = new URL(c.saltApi.url);
      return u.protocol === 'http:' && !isLoopbackHost(u.hostname)
        ? `saltApi.url uses plain http to ${u.hostname}: use https with saltApi.caFile (plain http is allowed only on loopback)`
        : undefined;
    },
  },
  {
    name: 'username-needs-password-file',
    level: 'warning',
    check: (c) =>
      c.saltApi.username && !c.saltApi.passwordFile
        ? 'saltApi.username is set but saltApi.passwordFile is not'
        : undefined,
  },
  {
    name: 'agents-listen-is-host-port',
    level: 'error',
    check: (c) =>
      c.agents.listen === 'off' || /^.+:\d{1,5}$/.test(c.agents.listen)
        ? undefined
        : `agents.listen must be host:port (or off), got ${c.agents.listen}`,
  },
  {
    name: 'encrypt-recipients-are-age',
    level: 'error',
    check: (c) => {
      const bad = c.backup.encrypt.recipients.filter((r) => !/^age1[0-9a-z]{20,}$/.test(r));
      return bad.length ? `backup.encrypt.recipients must be age public keys (age1…): ${bad.join(', ')}` : undefined;
    },
  },
];

export const routerRules: Rule<RouterConfig>[] = [];

function formatIssues(issues: z.core.$ZodIssue[]): string[] {
  return issues.map((i) => {
    const path = i.path.map(String).join('.') || '(top level)';
    if (i.code === 'unrecognized_keys') return `${path}: unknown key(s) ${i.keys.join(', ')}`;
    return `${path}: ${i.message}`;
  });
}

function run<T>(schema: z.ZodType<T>, rules: Rule<T>[], input: unknown): ValidationResult<T> {
  const parsed = schema.safeParse(input ?? {});
  if (!parsed.success) return { config: undefined, warnings: [], errors: formatIssues(parsed.error.issues) };
  const warnings: string[] = [];
  const errors: string[] = [];
  for (const rule of rules) {
    let msg: string | undefined;
    try {
      msg = rule.check(parsed.data);
    } catch (err) {
      msg = `${rule.name}: ${(err as Error).message}`;
    }
    if (msg) (rule.level === 'error' ? errors : warnings).push(msg);
  }
  return { config: errors.length ? undefined : parsed.data, warnings, errors };
}

export const validateConductorConfig = (input: unknown): ValidationResult<ConductorConfig> =>
  run(conductorSchema as unknown as z.ZodType<ConductorConfig>, conductorRules, input);
export const validateRouterConfig = (input: unknown): ValidationResult<RouterConfig> =>
  run(routerSchema as unknown as z.ZodType<RouterConfig>, routerRules, input);
