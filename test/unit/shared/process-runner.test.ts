import assert from 'node:assert/strict';
import { splitCommandLine, systemProcessRunner } from '../../../shared/ports/process-runner.js';
import { commandServiceControl } from '../../../shared/ports/service-control.js';
import { hasCode } from '../../../shared/errors.js';

describe('shared/ports/process-runner', () => {
  it('splits command lines like a shell would, expanding nothing', () => {
    assert.deepEqual(splitCommandLine('systemctl stop 128T'), ['systemctl', 'stop', '128T']);
    assert.deepEqual(splitCommandLine(`sh -c 'echo $HOME; rm -rf /' "a \\"b\\"" c\\ d`), [
      'sh',
      '-c',
      'echo $HOME; rm -rf /',
      'a "b"',
      'c d',
    ]);
    assert.deepEqual(splitCommandLine(`x ''`), ['x', '']);
    assert.throws(
      () => splitCommandLine(`echo 'oops`),
      (e) => hasCode(e, 'USAGE'),
    );
  });

  it('runs argv without a shell and captures output', async () => {
    const r = await systemProcessRunner.run([
      'node',
      '-e',
      'process.stdout.write(process.argv[1]); process.exit(3)',
      '$(whoami);',
    ]);
    assert.equal(r.code, 3);
    assert.equal(r.stdout, '$(whoami);');
  });

  it('service control uses configured command lines and reports failures as SERVICE_FAILED', async () => {
    const svc = commandServiceControl({
      name: '128T',
      unit: '128T',
      commands: { start: 'true', stop: 'false', isActive: 'true' },
    });
    await svc.start();
    assert.equal(await svc.isActive(), true);
    await assert.rejects(svc.stop(), (e) => hasCode(e, 'SERVICE_FAILED'));
  });
});
