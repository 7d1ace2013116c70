import assert from 'node:assert/strict';
import { main } from '../../conductor-agent/cli/main.js';
import type { DrillReport } from '../../conductor-agent/drill/run.js';
import { memoryIo } from '../helpers/cli.js';

describe('drill --scenario migrate', function () {
  this.timeout(120_000);
  it('moves the sandbox conductor to the next address (+ one for HA) and every router follows, verified', async () => {
    const io = memoryIo({});
    const code = await main(
      ['--json', 'drill', '--scenario', 'migrate', '--ha', '--routers', '4', '--host', '127.8.0.12'],
      io,
    );
    const report = JSON.parse(io.out()) as DrillReport;
    assert.equal(code, 0, JSON.stringify(report.steps, null, 2));
    assert.deepEqual(
      report.steps.map((s) => [s.name, s.status]),
      [
        ['sandbox', 'ok'],
        ['migrate', 'ok'],
        ['verify', 'ok'],
      ],
    );
    assert.equal(report.steps[0]!.facts.new, '127.8.0.13, 127.8.0.14');
    assert.equal(report.steps[2]!.facts.followingNew, 4);
    assert.equal(report.routers.length, 4);
  });
});
