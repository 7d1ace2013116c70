import assert from 'node:assert/strict';
import { parseErrorBody, decodeEntities } from '../../../../conductor-agent/saltapi/html-error.js';
import { errorFromResponse, errorFromNetwork } from '../../../../conductor-agent/saltapi/errors.js';
import { readCapture } from '../../../fixtures/captures/read-capture.js';

describe('conductor-agent/saltapi/html-error + errors (CherryPy HTML pages, reference §1.5)', () => {
  const cases: Array<[string, number, string, string]> = [
    ['03-login-bad-password.txt', 401, 'Could not authenticate using provided credentials', 'SALTAPI_AUTH_DENIED'],
    ['15-no-token.txt', 401, 'No permission -- see authorization schemes', 'SALTAPI_AUTH_DENIED'],
    ['16-bad-token.txt', 401, 'No permission -- see authorization schemes', 'SALTAPI_AUTH_DENIED'],
    [
      '17-client-disabled.txt',
      400,
      "Client disabled: 'ssh'. Add to 'netapi_enable_clients' master config option to enable.",
      'SALTAPI_CLIENT_DISABLED',
    ],
    ['18-bad-json.txt', 400, 'Invalid JSON document', 'SALTAPI_HTTP'],
    ['21-after-logout.txt', 401, 'No permission -- see authorization schemes', 'SALTAPI_AUTH_DENIED'],
  ];
  for (const [file, status, message, code] of cases) {
    it(`${file}: message and code ${code}`, () => {
      const c = readCapture(file);
      assert.equal(c.status, status);
      const parsed = parseErrorBody(c.body, 'text/html;charset=utf-8');
      assert.equal(parsed.message, message);
      assert.equal(parsed.title, `${status} ${status === 401 ? 'Unauthorized' : 'Bad Request'}`);
      const err = errorFromResponse({
        status,
        body: c.body,
        contentType: 'text/html;charset=utf-8',
        request: 'POST /',
      });
      assert.equal(err.code, code);
      assert.equal(err.details.status, status);
    });
  }

  it('names the disabled client in the error details', () => {
    const c = readCapture('17-client-disabled.txt');
    assert.equal(
      errorFromResponse({ status: 400, body: c.body, contentType: 'text/html', request: 'POST /' }).details.client,
      'ssh',
    );
  });

  it('maps 503 to SALTAPI_UNAVAILABLE, 504 to SALTAPI_TIMEOUT and 500 JSON to SALTAPI_HTTP', () => {
    assert.equal(
      errorFromResponse({
        status: 503,
        body: '<h2>503 Service Unavailable</h2><p>Salt Master is not available.</p>',
        contentType: 'text/html',
        request: 'POST /login',
      }).code,
      'SALTAPI_UNAVAILABLE',
    );
    assert.equal(
      errorFromResponse({ status: 504, body: '', contentType: '', request: 'POST /' }).code,
      'SALTAPI_TIMEOUT',
    );
    const e500 = errorFromResponse({
      status: 500,
      body: '{"status": 500, "return": "An unexpected error occurred"}',
      contentType: 'application/json',
      request: 'POST /',
    });
    assert.equal(e500.code, 'SALTAPI_HTTP');
    assert.equal(e500.details.message, 'An unexpected error occurred');
  });

  it('never throws on odd bodies (empty, truncated HTML, binary, a traceback page)', () => {
    for (const body of [
      '',
      '<html><h2>401',
      '\u0000\u00ff<<<',
      '{"return":',
      '<h2>500 Internal Server Error</h2><p>boom</p><pre id="traceback">Traceback &lt;x&gt;</pre>',
    ]) {
      const p = parseErrorBody(body, 'text/html');
      assert.equal(typeof p.message, 'string');
    }
    assert.equal(
      parseErrorBody('<h2>500 x</h2><p>boom</p><pre id="traceback">Traceback &lt;x&gt;</pre>').traceback,
      'Traceback <x>',
    );
  });

  it('decodes the entities CherryPy and proxies produce', () => {
    assert.equal(decodeEntities('&lt;a&gt; &amp; &#39;b&#x27; &quot;'), `<a> & 'b' "`);
  });

  it('maps network failures to SALTAPI_UNAVAILABLE and keeps the errno', () => {
    const err = errorFromNetwork(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), 'GET /');
    assert.equal(err.code, 'SALTAPI_UNAVAILABLE');
    assert.equal(err.details.errno, 'ECONNREFUSED');
  });
});
