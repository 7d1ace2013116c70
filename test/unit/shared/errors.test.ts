import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ErrorCodes, RecoveryError, asRecoveryError, hasCode, InternalError } from '../../../shared/errors.js';
import { ExitCode } from '../../../shared/exit-codes.js';

describe('shared/errors', () => {
  it('maps each code to an exit code from the one table', () => {
    const exits = new Set<number>(Object.values(ExitCode));
    for (const [code, spec] of Object.entries(ErrorCodes)) {
      assert.ok(exits.has(spec.exit), `${code} → ${spec.exit} is not in the exit-code table`);
      assert.ok(spec.meaning.length > 10, `${code} needs a meaning`);
    }
  });

  it('lists every code in docs/errors.md', () => {
    const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
    for (const code of Object.keys(ErrorCodes))
      assert.match(doc, new RegExp(`\`${code}\``), `${code} missing from docs/errors.md`);
  });

  it('keeps code, cause, details and hint, and serialises without the cause', () => {
    const cause = new Error('ENOSPC');
    const e = new RecoveryError('BACKUP_FAILED', 'disk full', { cause, details: { path: '/x' }, hint: 'free space' });
    assert.equal(e.code, 'BACKUP_FAILED');
    assert.equal(e.exitCode, ExitCode.FAILED);
    assert.equal(e.cause, cause);
    assert.deepEqual(e.toJSON(), {
      code: 'BACKUP_FAILED',
      message: 'disk full',
      hint: 'free space',
      details: { path: '/x' },
    });
  });

  it('wraps foreign throwables as INTERNAL with a bug-report hint', () => {
    const e = asRecoveryError(new TypeError('x is undefined'));
    assert.ok(e instanceof InternalError);
    assert.equal(e.exitCode, ExitCode.INTERNAL);
    assert.ok(hasCode(e, 'INTERNAL'));
    assert.match(e.hint ?? '', /bug/);
  });
});

describe('RecoveryError across module copies (regression: lazily imported copies turned every error into INTERNAL)', () => {
  it('recognises an error from another copy of shared/errors by its brand', async () => {
    // A second instance of the module, as tsx can create when one import says .ts and another .js.
    const other = (await import(
      `../../../shared/errors.ts?copy=${Date.now()}`
    )) as typeof import('../../../shared/errors.js');
    const foreign = new other.RecoveryError('LOCK_HELD', 'held elsewhere');
    assert.ok(foreign instanceof RecoveryError);
    assert.equal(asRecoveryError(foreign).code, 'LOCK_HELD');
    assert.ok(hasCode(foreign, 'LOCK_HELD'));
    assert.ok(!(new Error('plain') instanceof RecoveryError));
    assert.ok(!(new RecoveryError('INTERNAL', 'x') instanceof InternalError), 'subclasses keep the normal check');
  });
});
