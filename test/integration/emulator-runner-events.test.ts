// The emulator answers a runner call as real salt-api 3006.18 does (observed with test:salt): the
// salt/run/<jid>/new and /ret events on the bus, and `full_return` answering with the ret event.
// It used to fire neither event and answer full_return with the bare ret data.
import { SaltApiClient } from '../../conductor-agent/saltapi/client.js';
import { startSaltSandbox, type SaltSandbox } from '../../sandbox/saltapi-emulator/sandbox.js';
import { checkRunnerEventShapes } from '../helpers/runner-events.js';
import { makeTmpDir } from '../helpers/tmpdir.js';

describe('integration: emulator runner calls fire salt/run events like real salt-api', () => {
  let sb: SaltSandbox;
  let cleanup: () => Promise<void>;
  before(async () => {
    const t = await makeTmpDir('ssr-emu-runner-');
    cleanup = t.cleanup;
    sb = await startSaltSandbox({ root: t.dir });
  });
  after(async () => {
    await sb?.close();
    await cleanup?.();
  });

  it('runner event.send: salt/run/<jid>/new, the event, salt/run/<jid>/ret; full_return is the ret event', async () => {
    const c = new SaltApiClient({ url: sb.url, username: sb.username, password: sb.secret, eauth: 'sharedsecret' });
    try {
      await checkRunnerEventShapes(c);
    } finally {
      await c.close();
    }
  });
});
