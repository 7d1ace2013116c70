import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import { Header } from 'tar';
import { encodeHeader, memberLength, padding, BLOCK } from '../../../../conductor-agent/backup/tar-header.js';

describe('tar headers written by hand', () => {
  const base = {
    type: 'file' as const,
    size: 1234,
    mode: 0o600,
    uid: 0,
    gid: 0,
    uname: 'root',
    gname: 'root',
    mtime: 1_700_000_000,
  };

  it('writes a ustar header node-tar parses back with a valid checksum', () => {
    const buf = encodeHeader({ ...base, name: 'etc/128technology/global.init' });
    assert.equal(buf.length, BLOCK);
    const h = new Header(buf);
    assert.equal(h.cksumValid, true);
    assert.equal(h.path, 'etc/128technology/global.init');
    assert.equal(h.size, 1234);
    assert.equal(h.mode, 0o600);
    assert.equal(h.uname, 'root');
    assert.equal(h.type, 'File');
  });

  it('marks folders with a trailing slash and type 5', () => {
    const h = new Header(encodeHeader({ ...base, type: 'dir', name: 'srv/salt', mode: 0o700 }));
    assert.equal(h.path, 'srv/salt/');
    assert.equal(h.type, 'Directory');
    assert.equal(h.size, 0);
  });

  it('splits a 150-byte path into ustar prefix + name', () => {
    const name = `srv/salt/${'d'.repeat(60)}/${'f'.repeat(70)}.sls`;
    const buf = encodeHeader({ ...base, name });
    assert.equal(buf.length, BLOCK, 'no pax header needed');
    const h = new Header(buf);
    assert.equal(h.path, name);
  });

  it('uses a pax record for a path no ustar split can hold', () => {
    const name = `srv/salt/${'x'.repeat(180)}.sls`;
    const buf = encodeHeader({ ...base, name });
    assert.ok(buf.length > BLOCK);
    const pax = new Header(buf.subarray(0, BLOCK));
    assert.equal(pax.type, 'ExtendedHeader');
    assert.match(buf.subarray(BLOCK, BLOCK + pax.size!).toString(), new RegExp(`^\\d+ path=${name}\\n$`));
  });

  it('reports member lengths including content padding', () => {
    assert.equal(padding(0), 0);
    assert.equal(padding(1), 511);
    assert.equal(memberLength({ ...base, name: 'a' }), BLOCK + 1234 + padding(1234));
  });
});

describe('padded compressed gzip member', () => {
  it('has exactly the reserved length, and zlib, gzip and GNU tar read it as the plain data', async () => {
    const { paddedGzip, reserveFor } = await import('../../../../conductor-agent/backup/gzip-padded.js');
    const { spawnSync } = await import('node:child_process');
    const data = Buffer.from(
      '{"entries":[' +
        Array.from({ length: 500 }, (_, i) => `{"path":"p/${i}","sha256":"${'ab'.repeat(32)}"}`).join(',\n') +
        ']}\n',
    );
    const length = reserveFor(data);
    const member = paddedGzip(data, length)!;
    assert.equal(member.length, length);
    assert.deepEqual(gunzipSync(member), data);
    const r = spawnSync('gzip', ['-dc'], { input: member });
    assert.equal(r.status, 0);
    assert.deepEqual(r.stdout, data);
    assert.equal(paddedGzip(data, 20), undefined, 'does not fit');
  });
});
