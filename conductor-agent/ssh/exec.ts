/**
 * One command over an open SSH session: the command text (built only by steps.ts from fixed
 * templates and validated values), optional stdin, output captured up to a cap, and a deadline
 * that closes the channel so a hanging router cannot hold the wave.
 */
import type { Client } from 'ssh2';
import { SshError } from '../../shared/errors.js';

export interface ExecResult {
  code: number | null;
  signal?: string | undefined;
  stdout: string;
  stderr: string;
}

const CAP = 64 * 1024;

/** Run `command`; resolves with its exit code (never throws for a non-zero exit). */
export function execCommand(
  client: Client,
  command: string,
  o: {
    stdin?: string;
    timeoutMs: number;
    signal?: AbortSignal | undefined;
    /** Sees stdout as it arrives; `close()` ends the channel early (the result then has code null). */
    onStdout?: ((chunk: string, close: () => void) => void) | undefined;
  },
): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    let settled = false;
    let channel: { close(): void } | undefined;
    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      if (channel) closeQuietly(channel); // a timed-out step must not keep running on our side
      fn();
    };
    const timer = setTimeout(
      () =>
        finish(() =>
          reject(
            new SshError('SSH_TIMEOUT', `a step did not finish within ${o.timeoutMs} ms`, {
              details: { timeoutMs: o.timeoutMs },
            }),
          ),
        ),
      o.timeoutMs,
    );
    const onAbort = (): void =>
      finish(() => reject(new SshError('SSH_TIMEOUT', 'the host ran out of its time budget')));
    o.signal?.addEventListener('abort', onAbort, { once: true });
    client.exec(command, (err, stream) => {
      if (err)
        return finish(() => reject(new SshError('SSH_FAILED', `cannot run a command: ${err.message}`, { cause: err })));
      channel = stream;
      const close = (): void => closeQuietly(stream);
      stream.on('data', (d: Buffer) => {
        const text = d.toString('utf8');
        if (stdout.length < CAP) stdout += text;
        o.onStdout?.(text, close);
      });
      stream.stderr.on('data', (d: Buffer) => {
        if (stderr.length < CAP) stderr += d.toString('utf8');
      });
      stream.on('close', (code: number | null, sig?: string) =>
        finish(() => resolve({ code, signal: sig, stdout, stderr })),
      );
      if (o.stdin !== undefined) stream.end(o.stdin);
      else stream.end();
    });
  });
}

function closeQuietly(stream: { close(): void }): void {
  try {
    stream.close();
  } catch {
    /* already closed */
  }
}
