import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { createLogger } from '../../../shared/log/logger.js';
import { redact, REDACTED } from '../../../shared/log/redact.js';

describe('shared/log redaction', () => {
  const { privateKey } = generateKeyPairSync('ed25519', {
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });

  it('removes private key PEM text wherever it appears', () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'debug', write: (l) => lines.push(l) });
    log.info(`loaded ${privateKey}`, { nested: { blob: `x ${privateKey} y` }, list: [privateKey] });
    const text = lines.join('');
    assert.doesNotMatch(text, /PRIVATE KEY/);
    assert.doesNotMatch(text, /MC4CAQAwBQYDK2Vw/); // the ed25519 pkcs8 prefix
    assert.equal(JSON.parse(lines[0]!).list[0].trim(), REDACTED);
  });

  it('redacts secret-named fields but keeps public facts', () => {
    const out = redact({
      password: 'hunter2',
      passwordFile: '/etc/pw',
      token: 'abc',
      fingerprint: 'aa:bb',
      publicKey: 'age1xyz',
    }) as Record<string, unknown>;
    assert.equal(out.password, REDACTED);
    assert.equal(out.token, REDACTED);
    assert.equal(out.passwordFile, '/etc/pw');
    assert.equal(out.fingerprint, 'aa:bb');
    assert.equal(out.publicKey, 'age1xyz');
  });

  it('redacts age identities and survives cycles', () => {
    const o: Record<string, unknown> = {
      note: 'AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ',
    };
    o.self = o;
    const out = redact(o) as Record<string, unknown>;
    assert.equal(out.note, REDACTED);
    assert.equal(out.self, '[…]');
  });

  it('drops lines under the level and adds child bindings', () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'warn', write: (l) => lines.push(l) }).child({ component: 'backup' });
    log.info('hidden');
    log.warn('shown', { file: '/x' });
    assert.equal(lines.length, 1);
    const rec = JSON.parse(lines[0]!);
    assert.equal(rec.component, 'backup');
    assert.equal(rec.level, 'warn');
    assert.equal(rec.file, '/x');
  });
});
