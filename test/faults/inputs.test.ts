// Malformed input a user or an attacker controls: mutated configuration files for both bins, and a
// hostile salt-api answering our client with garbage. Every case ends in a stable error code and the
// documented exit code (3 for configuration), never an internal error (70) or a stack trace.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { main as conductorMain } from '../../conductor-agent/cli/main.js';
import { main as routerMain } from '../../router-agent/cli/main.js';
import { createSaltApiClient } from '../../conductor-agent/saltapi/index.js';
import { RecoveryError } from '../../shared/errors.js';
import { memoryIo } from '../helpers/cli.js';
import { makeTmpDir } from '../helpers/tmpdir.js';
import { makeRouterTree, rsaPublicPem } from '../unit/router-agent/fake-minion.js';
import { Rng } from './mutate.js';
import { recordFaults } from './record.js';

const CONFIGS = Number(process.env.SSR_FAULT_CONFIGS ?? 150);

const validConductor = [
  'saltApi:',
  '  url: http://127.0.0.1:8000',
  '  eauth: pam',
  '  username: salt',
  'backup:',
  '  dir: /var/log/128technology',
  '  keep: {last: 3, daily: 2, weekly: 1}',
  'agents:',
  '  listen: 127.0.0.2:0',
  'log:',
  '  level: error',
  '',
].join('\n');
const validRouter = JSON.stringify({
  agent: { pollMs: 50 },
  services: { minion: { start: 'true', stop: 'true', restart: 'true', isActive: 'false' } },
  log: { level: 'error' },
});

function mutateText(rng: Rng, text: string): string {
  const lines = text.split('\n');
  switch (rng.int(9)) {
    case 0: {
      const b = Buffer.from(text);
      for (let n = 1 + rng.int(5); n; n--) b[rng.int(b.length)] = rng.int(256);
      return b.toString('latin1');
    }
    case 1:
      return text.slice(0, rng.int(text.length));
    case 2: {
      const i = rng.int(lines.length);
      lines[i] = lines[i]!.replace(
        /: .*/,
        `: ${rng.pick(['[1, 2', '{a: ', '-5', '99999999999999999999', '"', '!!binary AAAA', '&a [*a]', 'null', '~', "'\\x00'"])}`,
      );
      return lines.join('\n');
    }
    case 3:
      return (
        'a: &a ["x","x","x","x","x","x","x","x","x"]\n' +
        'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n'.repeat(1) +
        'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n'
      );
    case 4:
      return `${text}\n${rng.pick(['unknownKey', '__proto__', 'constructor', 'backup'])}: {polluted: true}\n`;
    case 5:
      return '['.repeat(5000) + ']'.repeat(5000);
    case 6:
      return lines.map((l) => (rng.next() < 0.2 ? `\t${l}` : l)).join('\n');
    case 7:
      return JSON.stringify({
        log: { level: rng.pick(['loud', 5, null, ['info']]) },
        agent: { pollMs: rng.pick([-1, 0, 1.5, '50', 1e300]) },
      });
    default:
      return `\u0000\uffff\ud800${text}`;
  }
}

describe('faults: malformed input', function () {
  this.timeout(120_000);
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => ({ dir, cleanup } = await makeTmpDir('ssr-fault-input-')));
  after(() => cleanup());

  it(`${CONFIGS} mutated configuration files per bin end in a stable error code and its documented exit (CONFIG_* → 3), never 70`, async () => {
    const rng = new Rng(7);
    const cRoot = join(dir, 'c');
    const rRoot = join(dir, 'r');
    await mkdir(join(cRoot, 'etc/ssr-recovery'), { recursive: true });
    await mkdir(join(cRoot, 'var/log/128technology'), { recursive: true });
    await makeRouterTree(rRoot, rsaPublicPem(), 'router-1');
    await mkdir(join(rRoot, 'etc/ssr-recovery'), { recursive: true });
    const outcomes = { conductor: new Map<number, number>(), router: new Map<number, number>() };
    let bad = 0;
    for (let i = 0; i < CONFIGS; i++) {
      for (const side of ['conductor', 'router'] as const) {
        const text = mutateText(rng, side === 'conductor' ? validConductor : validRouter);
        const root = side === 'conductor' ? cRoot : rRoot;
        await writeFile(join(root, `etc/ssr-recovery/${side}-agent.yaml`), text);
        const io = memoryIo();
        const code =
          side === 'conductor'
            ? await conductorMain(['backup', 'list', '--json', '--root', root], io)
            : await routerMain(['status', '--json', '--root', root], io);
        outcomes[side].set(code, (outcomes[side].get(code) ?? 0) + 1);
        // A mutation may still be a valid config naming other paths (then the command's own stable error,
        // e.g. BACKUP_DIR_NOT_FOUND); what must never happen is an internal error or no JSON error at all.
        const coded = /"code":\s*"[A-Z_]+"/.test(io.out()) && (code !== 3 || /"code":\s*"CONFIG_/.test(io.out()));
        const ok = code === 0 || (code !== 70 && coded);
        if (!ok || /\n\s+at /.test(io.err())) {
          bad++;
          assert.fail(
            `${side} config #${i} → exit ${code}\n--- config ---\n${text.slice(0, 400)}\n--- stdout ---\n${io.out().slice(0, 400)}\n--- stderr ---\n${io.err().slice(0, 800)}`,
          );
        }
      }
    }
    assert.ok((outcomes.conductor.get(3) ?? 0) > CONFIGS / 3, 'most mutations are refused as configuration errors');
    recordFaults({
      area: 'configuration (both bins)',
      fault: 'mutated config files',
      injected: CONFIGS * 2,
      survived: CONFIGS * 2 - bad,
      dataLost: 0,
    });
  });

  it('a hostile salt-api (garbage, wrong shapes, truncation, resets, hangs) gets stable SALTAPI_ errors from our client', async () => {
    const answers: ((res: import('node:http').ServerResponse) => void)[] = [
      (res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"return": [{"token": '),
      (res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"return": "not a list"}'),
      (res) => res.writeHead(200, { 'content-type': 'application/json' }).end('[]'),
      (res) =>
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end('{"return": [{"token": 42, "expire": "soon", "perms": null}]}'),
      (res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>hello</body></html>'),
      (res) =>
        res
          .writeHead(500, { 'content-type': 'text/html' })
          .end(
            '<!DOCTYPE html><html><head><title>500</title></head><body><h2>500 Internal Server Error</h2><pre>Traceback',
          ),
      (res) =>
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(
            JSON.stringify({ return: [{ token: 't', expire: 9e99, eauth: 'pam', perms: [] }] }).replace(
              '"t"',
              '"\\u0000"',
            ),
          ),
      (res) => res.writeHead(401).end(),
      (res) =>
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(`{"return":[${'['.repeat(4000)}${']'.repeat(4000)}]}`),
      (res) => res.socket?.destroy(),
      (res) => res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' }).end('{"return":'),
      () => undefined, // hangs: the client's timeout must end it
    ];
    let current = 0;
    const server: Server = createServer((req, res) => {
      req.resume();
      answers[current]!(res);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    let survived = 0;
    try {
      for (current = 0; current < answers.length; current++) {
        const client = createSaltApiClient({
          url,
          username: 'u',
          password: 'p',
          eauth: 'pam',
          timeoutMs: 1500,
          retries: 1,
          backoff: { baseMs: 5, maxMs: 10 },
        });
        const err = await client.keys().then(
          () => undefined,
          (e: unknown) => e,
        );
        assert.ok(err instanceof RecoveryError, `answer #${current}: ${String(err)}`);
        assert.match(err.code, /^SALTAPI_/, `answer #${current}: ${err.code} ${err.message}`);
        survived++;
      }
    } finally {
      server.closeAllConnections();
      server.close();
    }
    recordFaults({
      area: 'salt-api client',
      fault: 'malformed or hostile salt-api answers',
      injected: answers.length,
      survived,
      dataLost: 0,
    });
  });
});
