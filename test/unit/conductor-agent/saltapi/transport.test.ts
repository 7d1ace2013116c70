import assert from 'node:assert/strict';
import { createTransport, isLoopbackHost } from '../../../../conductor-agent/saltapi/transport.js';
import { hasCode } from '../../../../shared/errors.js';

describe('conductor-agent/saltapi/transport (TLS pinning, plain http only on loopback)', () => {
  it('knows loopback hosts', () => {
    for (const h of ['127.0.0.1', '127.0.0.3', 'localhost', '[::1]']) assert.ok(isLoopbackHost(h), h);
    for (const h of ['10.0.0.1', 'salt.example.com', '128.0.0.1']) assert.ok(!isLoopbackHost(h), h);
  });

  it('refuses plain http to another host unless allowed', () => {
    assert.throws(
      () => createTransport({ url: 'http://10.0.0.5:8000' }),
      (e: unknown) => hasCode(e, 'CONFIG_INVALID'),
    );
    createTransport({ url: 'http://10.0.0.5:8000', allowInsecureHttp: true }).close();
    createTransport({ url: 'http://127.0.0.1:8000' }).close();
    createTransport({ url: 'https://salt.example.com:8000' }).close();
  });

  it('refuses a URL that is not http(s)', () => {
    assert.throws(
      () => createTransport({ url: 'ftp://127.0.0.1' }),
      (e: unknown) => hasCode(e, 'CONFIG_INVALID'),
    );
    assert.throws(
      () => createTransport({ url: 'not a url' }),
      (e: unknown) => hasCode(e, 'CONFIG_INVALID'),
    );
  });
});
