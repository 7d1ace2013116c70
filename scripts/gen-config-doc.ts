// Regenerates docs/configuration.md from the config schemas (shared/config/schema.ts): every key,
// its type, default and environment variable. Descriptions come from the `/** … */` comment above
// each key in schema.ts, or for the router keys from their definition (shared/config/router-keys.ts). Run after changing the schema:  npm run docs:config
import { readFileSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { conductorSchema, routerSchema } from '../shared/config/schema.js';
import { ENV_KEYS, envNameFor, type AgentKind } from '../shared/config/load.js';

const source = readFileSync(new URL('../shared/config/schema.ts', import.meta.url), 'utf8');

/** The source text of one schema (from its `export const` to the next one). */
function schemaSource(name: string): string {
  const start = source.indexOf(`export const ${name}`);
  const next = source.indexOf('export const ', start + 1);
  return source.slice(start, next === -1 ? undefined : next);
}

/** The `/** … *\/` comment right above a key, found by walking the key path at its indentation. */
function commentFor(src: string, path: string[]): string {
  let pos = 0;
  let keyAt = -1;
  path.forEach((name, depth) => {
    if (pos < 0) return;
    const needle = `\n${' '.repeat(4 + 4 * depth)}${name}:`;
    keyAt = src.indexOf(needle, pos);
    pos = keyAt;
  });
  if (keyAt < 0) return '';
  const before = src.slice(0, keyAt).trimEnd();
  if (!before.endsWith('*/')) return '';
  const open = before.lastIndexOf('/**');
  return before
    .slice(open + 3, -2)
    .replace(/\s*\n\s*\*?\s*/g, ' ')
    .trim();
}

type Json = {
  description?: string;
  type?: string | string[];
  properties?: Record<string, Json>;
  default?: unknown;
  items?: Json;
  enum?: unknown[];
  additionalProperties?: Json | boolean;
  anyOf?: Json[];
};

function rows(schema: Json, path: string[], agent: AgentKind, src: string, out: string[]): void {
  for (const [k, v] of Object.entries(schema.properties ?? {})) {
    const p = [...path, k];
    if (v.properties) {
      rows(v, p, agent, src, out);
      continue;
    }
    const key = p.join('.');
    const type = v.enum
      ? v.enum.map((e) => JSON.stringify(e)).join(' \\| ')
      : v.type === 'array'
        ? `list of ${v.items?.type ?? 'values'}`
        : v.additionalProperties
          ? 'map'
          : String(v.type ?? 'value');
    const dflt = v.default === undefined ? '' : `\`${JSON.stringify(v.default)}\``;
    const env = ENV_KEYS[agent][key] ? `\`${envNameFor(key)}\`` : '';
    out.push(`| \`${key}\` | ${type} | ${dflt} | ${env} | ${v.description ?? commentFor(src, p)} |`);
  }
}

function section(title: string, file: string, agent: AgentKind, schema: z.ZodType, schemaName: string): string {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Json;
  const out: string[] = [
    `## ${title}`,
    '',
    `File: \`<root>${file}\` (or \`--config FILE\`).`,
    '',
    '| key | type | default | environment | meaning |',
    '|---|---|---|---|---|',
  ];
  rows(json, [], agent, schemaSource(schemaName), out);
  return `${out.join('\n')}\n`;
}

/** The whole document (a test checks the committed file equals it). */
export function renderConfigDoc(): string {
  return `# Configuration

Generated from \`shared/config/schema.ts\` by \`npm run docs:config\`; do not edit by hand.

Precedence, lowest first: defaults < YAML file < environment variables < command-line flags.
Every path is written as on a real host and resolved under \`--root\` (default \`/\`). Secrets are
never values: they live in files named by \`…File\` keys (mode 0600). Unknown keys are errors, and
every problem is listed at once (exit code 3).

\`services.<name>.start|stop|restart|isActive\` are command lines (split without a shell) that
replace \`systemctl <verb> <unit>\` for \`128T\` and \`salt-master\` on the conductor and \`minion\`
on routers. The salt-master unit name on SSR is not confirmed by any source
(reference: ssr.md §3.4), so it is a setting (\`services.salt-master.unit\` where supported).

${section('conductor-agent', '/etc/ssr-recovery/conductor-agent.yaml', 'conductor-agent', conductorSchema, 'conductorSchema')}
${section('router-agent', '/etc/ssr-recovery/router-agent.yaml', 'router-agent', routerSchema, 'routerSchema')}`;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  writeFileSync(new URL('../docs/configuration.md', import.meta.url), renderConfigDoc());
}
