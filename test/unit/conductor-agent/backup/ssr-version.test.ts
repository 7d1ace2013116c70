import assert from 'node:assert/strict';
import sinon from 'sinon';
import { probeSsrVersion } from '../../../../conductor-agent/backup/ssr-version.js';
import type { ProcessRunner } from '../../../../shared/ports/process-runner.js';

describe('SSR version probe', () => {
  const runner = (stdout: string, code = 0): ProcessRunner => ({
    run: sinon.stub().resolves({ code, signal: null, stdout, stderr: '' }),
  });

  it('asks rpm for the 128T package on a real root', async () => {
    const r = runner('6.3.0-107.r2.el7');
    assert.equal(await probeSsrVersion(r, '/'), '6.3.0-107.r2.el7');
    assert.deepEqual((r.run as sinon.SinonStub).firstCall.args[0], [
      'rpm',
      '-q',
      '--queryformat',
      '%{VERSION}-%{RELEASE}',
      '128T',
    ]);
  });

  it('says unknown when the package is not installed, and never asks under a --root prefix', async () => {
    assert.equal(await probeSsrVersion(runner('package 128T is not installed', 1), '/'), undefined);
    const r = runner('6.3.0');
    assert.equal(await probeSsrVersion(r, '/tmp/tree'), undefined);
    assert.equal((r.run as sinon.SinonStub).called, false);
  });
});
