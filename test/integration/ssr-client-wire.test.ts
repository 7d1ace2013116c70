/**
 * The SSR REST client's requests, field by field, against reference/ssr.md §4.1, §4.2, §4.4 (the facts
 * are copied here: tests never read ../shared): login body and no Authorization on it, the Bearer
 * header on everything after, the commit/validate/export/import/PATCH bodies, the GraphQL query shape,
 * case-insensitive states; and TLS verification on by default with a CA file settable.
 */
import assert from 'node:assert/strict';
import { createServer as createHttps } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createHttpSsrConductor, ASSETS_QUERY } from '../../conductor-agent/ssr/http-conductor.js';
import { assetPhase } from '../../conductor-agent/ssr/conductor.js';
import { startSsrSimulator, type SsrSimulator } from '../../sandbox/ssr-simulator/server.js';
import { hasCode } from '../../shared/errors.js';
import { makeTmpDir } from '../helpers/tmpdir.js';

/** reference/ssr.md §4.4, as stage_check's TestAssetState.py sends it. */
const REFERENCE_ASSETS_QUERY =
  '{ allAuthorities { edges { node { assets { assetId routerName nodeName t128Version ' +
  'status assetIdConfigured text failedStatus } } } } }';

describe('SSR REST client on the wire (reference/ssr.md §4)', () => {
  let sim: SsrSimulator;
  let cleanup: () => Promise<void>;
  before(async () => {
    const t = await makeTmpDir();
    cleanup = t.cleanup;
    sim = await startSsrSimulator({
      root: t.dir,
      host: '127.8.1.3',
      users: { admin: 'pw' },
      assets: () => [
        { routerName: 'r1', nodeName: 'n0', assetId: 'a1', status: 'RESYNCHRONIZING' },
        { routerName: 'r2', nodeName: 'n0', assetId: 'a2', status: 'Something-New' },
      ],
    });
  });
  after(async () => {
    await sim.close();
    await cleanup();
  });

  it('logs in with {username,password}, then sends exactly the documented calls with a Bearer token', async () => {
    const ssr = createHttpSsrConductor({ url: sim.url, username: 'admin', password: 'pw' });
    sim.requests.length = 0;
    await ssr.login();
    const states = await ssr.assets();
    await ssr.exportConfig('mig-1');
    await ssr.importConfig('mig-1.gz');
    await ssr.setConductorAddresses(['10.0.0.3', '10.0.0.4']);
    assert.deepEqual(await ssr.validate(), []);
    await ssr.commit();
    await ssr.candidateDirty();
    const [login, ...rest] = sim.requests;
    assert.equal(login!.method, 'POST');
    assert.equal(login!.path, '/login');
    assert.deepEqual(login!.body, { username: 'admin', password: 'pw' });
    assert.equal(login!.headers['content-type'], 'application/json');
    assert.equal(login!.headers.authorization, undefined);
    const token = rest[0]!.headers.authorization!;
    assert.match(token, /^Bearer [A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    for (const r of rest) assert.equal(r.headers.authorization, token, `${r.method} ${r.path}`);
    assert.deepEqual(
      rest.map((r) => [r.method, r.path, r.body]),
      [
        ['POST', '/graphql', { query: REFERENCE_ASSETS_QUERY }],
        ['POST', '/config/export', { filename: 'mig-1', datastore: 'running' }],
        ['POST', '/config/import', { filename: 'mig-1.gz' }],
        ['PATCH', '/config/candidate/authority', { 'conductor-address': ['10.0.0.3', '10.0.0.4'] }],
        ['POST', '/config/validate', {}],
        ['POST', '/config/commit', {}],
        ['GET', '/config/version?datastore=candidate', {}],
      ],
    );
    assert.equal(ASSETS_QUERY, REFERENCE_ASSETS_QUERY);
    assert.deepEqual(
      states.map((s) => s.status),
      ['resynchronizing', 'something-new'],
    );
    assert.deepEqual(
      states.map((s) => assetPhase(s.status)),
      ['running', 'in-progress'],
      'unknown states count as in progress',
    );
  });

  it('a refused commit ([{message}]) is SSR_COMMIT_FAILED with the messages', async () => {
    const ssr = createHttpSsrConductor({ url: sim.url, username: 'admin', password: 'pw' });
    sim.faults.commitErrors.push('bad interface');
    try {
      await assert.rejects(
        ssr.commit(),
        (e) =>
          hasCode(e, 'SSR_COMMIT_FAILED') &&
          JSON.stringify((e as { details: unknown }).details).includes('bad interface'),
      );
    } finally {
      sim.faults.commitErrors.length = 0;
    }
  });

  it('verifies TLS by default (self-signed refused) and trusts a configured CA', async () => {
    const selfsigned = await import('selfsigned');
    const pems = await selfsigned.generate([{ name: 'commonName', value: '127.8.1.4' }], {
      keyType: 'ec',
      curve: 'P-256',
      algorithm: 'sha256',
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.8.1.4' }] }],
    } as never);
    const server = createHttps({ key: pems.private, cert: pems.cert }, (req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(req.url === '/api/v1/login' ? { token: 'a.b.c' } : { softwareVersion: '6.3.0' }));
    });
    await new Promise<void>((r) => server.listen(0, '127.8.1.4', () => r()));
    const url = `https://127.8.1.4:${(server.address() as AddressInfo).port}`;
    try {
      const blind = createHttpSsrConductor({ url, username: 'admin', password: 'pw' });
      await assert.rejects(blind.login(), (e) => hasCode(e, 'SSR_API_UNAVAILABLE'));
      const pinned = createHttpSsrConductor({ url, username: 'admin', password: 'pw', ca: pems.cert });
      assert.equal(await pinned.version(), '6.3.0');
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
