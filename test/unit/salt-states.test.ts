import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { EVENT_TAGS } from '../../shared/salt/event-tags.js';

const top = fileURLToPath(new URL('../../salt-states/', import.meta.url));
const walk = (d: string): string[] =>
  readdirSync(d).flatMap((f) => (statSync(join(d, f)).isDirectory() ? walk(join(d, f)) : [join(d, f)]));
const files = walk(top);
const sls = files.filter((f) => f.endsWith('.sls'));

describe('salt-states', () => {
  it('every .sls opens with a comment naming its purpose and the pillar keys it reads', () => {
    assert.ok(sls.length >= 10);
    for (const f of sls) {
      const text = readFileSync(f, 'utf8');
      assert.match(text, /^# \S/, `${relative(top, f)} must open with a purpose comment`);
      assert.match(
        text
          .split('\n')
          .filter((l) => l.startsWith('#'))
          .join('\n'),
        /Pillar keys read:/,
        `${relative(top, f)} must name the pillar keys it reads`,
      );
    }
  });

  it('every salt://ssr_recovery/files/… source exists in the formula', () => {
    for (const f of sls) {
      for (const m of readFileSync(f, 'utf8').matchAll(/salt:\/\/(ssr_recovery\/files\/[\w.-]+)/g)) {
        if (/\.tgz(\.sha256)?$/.test(m[1]!) || m[1]!.endsWith('master_sign.pub')) continue; // made at install time (npm run release; keys enable-signing exports master_sign.pub)
        assert.ok(existsSync(join(top, m[1]!)), `${relative(top, f)} names ${m[1]} which does not exist`);
      }
    }
  });

  it('reactor docs name our event tags exactly as the agents fire them', () => {
    const enroll = readFileSync(join(top, 'reactor/enroll.sls'), 'utf8');
    assert.ok(enroll.includes(`'${EVENT_TAGS.agentEnroll}'`));
    assert.match(enroll, /cmd'\) == '_minion_event'/, 'only minion-authenticated events are used');
  });

  it('defaults.yaml parses and carries every key the config templates use', () => {
    const defaults = parse(readFileSync(join(top, 'ssr_recovery/defaults.yaml'), 'utf8')) as {
      ssr_recovery: Record<string, unknown>;
    };
    const get = (path: string): unknown =>
      path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], defaults.ssr_recovery);
    for (const t of files.filter((f) => f.endsWith('.jinja') && f.includes('/files/'))) {
      for (const m of readFileSync(t, 'utf8').matchAll(/\bssr\.([\w.]+)/g)) {
        assert.notEqual(get(m[1]!), undefined, `${relative(top, t)} uses ssr.${m[1]} which defaults.yaml lacks`);
      }
    }
  });
});
