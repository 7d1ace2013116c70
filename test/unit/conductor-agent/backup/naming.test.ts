import assert from 'node:assert/strict';
import { ARCHIVE_NAME_RE } from '../../../../shared/backup/format.js';
import {
  archiveName,
  formatStamp,
  isBackupFileName,
  parseArchiveName,
} from '../../../../conductor-agent/backup/naming.js';
import { planBackup } from '../../../../conductor-agent/backup/plan.js';
import { conductorSchema } from '../../../../shared/config/schema.js';

describe('backup naming', () => {
  it("stamps UTC as YYYY-MM-DDTHHMMSSZ (regression: the seed's date '+%Y-%d-%d' printed the day twice)", () => {
    const d = new Date('2026-03-07T04:05:06.789Z');
    assert.equal(formatStamp(d), '2026-03-07T040506Z');
    // The seed's format would give 2026-07-07 here: month lost, day twice.
    assert.notEqual(formatStamp(d).slice(0, 10), '2026-07-07');
  });

  it('names sort in time order across months, days and hours', () => {
    const times = [
      '2026-01-31T23:59:59Z',
      '2026-02-01T00:00:00Z',
      '2026-02-01T09:00:00Z',
      '2026-10-02T00:00:00Z',
      '2027-01-01T00:00:00Z',
    ];
    const names = times.map((t) => archiveName('host', 'node', new Date(t)));
    assert.deepEqual([...names].sort(), names);
  });

  it('plans the archive name from a fake clock, host and the node from local.init', () => {
    const config = conductorSchema.parse({});
    const plan = planBackup({
      config,
      host: 'cond-east-1',
      node: 'node-a',
      createdAt: new Date('2026-11-24T11:30:05Z'),
    });
    assert.equal(plan.fileName, 'conductor-backup-cond-east-1-node-a-2026-11-24T113005Z.tar.gz');
    assert.equal(plan.dir, '/var/log/128technology');
  });

  it('adds .age when recipients are configured', () => {
    const config = conductorSchema.parse({ backup: { encrypt: { recipients: ['age1xyz'] } } });
    const plan = planBackup({ config, host: 'h', node: 'n', createdAt: new Date(0) });
    assert.match(plan.fileName, /\.tar\.gz\.age$/);
    assert.ok(plan.encrypted);
  });

  it('parses names whose host and node both contain dashes (regression: the old pattern took the node as the last dash-free word)', () => {
    const name = archiveName('cond-east-1', 'node-a-2', new Date('2026-11-24T11:30:05Z'));
    const m = ARCHIVE_NAME_RE.exec(name);
    assert.equal(m?.groups?.hostNode, 'cond-east-1-node-a-2');
    const p = parseArchiveName(name, 'cond-east-1');
    assert.equal(p?.host, 'cond-east-1');
    assert.equal(p?.node, 'node-a-2');
    assert.equal(p?.createdAt.toISOString(), '2026-11-24T11:30:05.000Z');
    assert.equal(p?.encrypted, false);
  });

  it('keeps unsafe characters out of file names', () => {
    assert.equal(archiveName('a/b', '../n', new Date(0)), 'conductor-backup-a_b-__n-1970-01-01T000000Z.tar.gz');
  });

  it('does not parse seed-made names but still recognises them as backups', () => {
    const seed = 'conductor-backup-myhost-2026-24-24.tar.gz';
    assert.equal(parseArchiveName(seed), undefined);
    assert.ok(isBackupFileName(seed));
    assert.equal(
      parseArchiveName('conductor-backup-h-n-2026-13-01T000000Z.tar.gz'),
      undefined,
      'month 13 is not a date',
    );
  });
});
