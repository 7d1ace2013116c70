/**
 * One SSH connection (ssh2) with the server's host key pinned, key-based authentication and a
 * ready timeout; failures become SSH_* errors. The SFTP client (sftp.ts) and, later, the router SSH
 * fallback run over it.
 */
import { Client, type ConnectConfig, type SFTPWrapper } from 'ssh2';
import { SshError } from '../../shared/errors.js';
import { nullLogger, type Logger } from '../../shared/log/logger.js';
import { matchesPin, sshFingerprint } from './host-key.js';

export interface SshTarget {
  host: string;
  port: number;
  username: string;
  /** Private key (OpenSSH or PEM) contents. Never logged. */
  privateKey?: Buffer | string | undefined;
  /** Password (read from a file by the caller). Never logged. */
  password?: string | undefined;
  /** Pinned `SHA256:…` host key fingerprint(s): the server must present one of them. */
  hostKeyFingerprint: string | readonly string[];
  /**
   * No pin known and the operator asked loudly (`--accept-new-host-keys`): called with the offered
   * fingerprint, which is then accepted. Never set by default.
   */
  acceptNewHostKey?: ((offered: string) => void) | undefined;
  readyTimeoutMs?: number;
}

export interface SshSession {
  readonly client: Client;
  /** Open the SFTP subsystem. */
  sftp(): Promise<SFTPWrapper>;
  close(): void;
}

/** Connect and authenticate; SSH_HOST_KEY_MISMATCH when the server's key is not the pinned one. */
export function openSession(
  target: SshTarget,
  options: { logger?: Logger; connect?: Partial<ConnectConfig> } = {},
): Promise<SshSession> {
  const logger = (options.logger ?? nullLogger).child({ component: 'ssh', host: target.host, port: target.port });
  const client = new Client();
  let offered: string | undefined;
  const pins =
    typeof target.hostKeyFingerprint === 'string' ? [target.hostKeyFingerprint] : [...target.hostKeyFingerprint];
  return new Promise((resolve, reject) => {
    client.once('ready', () => {
      client.removeAllListeners('error');
      client.on('error', (err) => logger.warn('ssh connection error', { error: err.message }));
      logger.debug('ssh session ready');
      resolve({
        client,
        sftp: () =>
          new Promise((res, rej) =>
            client.sftp((err, sftp) =>
              err
                ? rej(
                    new SshError('SSH_FAILED', `SFTP is not available on ${target.host}: ${err.message}`, {
                      cause: err,
                    }),
                  )
                : res(sftp),
            ),
          ),
        close: () => client.end(),
      });
    });
    client.once('error', (err: Error & { level?: string }) => {
      client.end();
      if (offered !== undefined) {
        reject(
          new SshError(
            pins.length ? 'SSH_HOST_KEY_MISMATCH' : 'SSH_HOST_KEY_UNKNOWN',
            `the SSH host key of ${target.host}:${target.port} (${offered}) is not the pinned ${pins.join(' or ') || '(none)'}`,
            {
              cause: err,
              details: { host: target.host, port: target.port, offered, pinned: pins },
              hint: 'If the server was rebuilt on purpose, check its key out of band (ssh-keygen -lf) and update the pinned fingerprint; otherwise someone may be in the middle.',
            },
          ),
        );
        return;
      }
      reject(
        new SshError('SSH_FAILED', `SSH to ${target.username}@${target.host}:${target.port} failed: ${err.message}`, {
          cause: err,
          details: { host: target.host, port: target.port, level: err.level },
          hint:
            err.level === 'client-authentication'
              ? "Check the username and that the public key is in the server's authorized_keys."
              : 'Check the host, port and network path.',
        }),
      );
    });
    try {
      connect();
    } catch (err) {
      // ssh2 throws synchronously for a key it cannot parse: bad input, not a bug.
      reject(
        new SshError(
          'SSH_FAILED',
          `cannot use the SSH credentials for ${target.host}:${target.port}: ${(err as Error).message}`,
          {
            cause: err,
            details: { host: target.host, port: target.port },
            hint: 'The key file must be an OpenSSH or PEM private key without a passphrase.',
          },
        ),
      );
    }
  });

  function connect(): void {
    client.connect({
      host: target.host,
      port: target.port,
      username: target.username,
      ...(target.privateKey !== undefined ? { privateKey: target.privateKey } : {}),
      ...(target.password !== undefined ? { password: target.password } : {}),
      readyTimeout: target.readyTimeoutMs ?? 20_000,
      hostVerifier: (key: Buffer) => {
        if (pins.some((p) => matchesPin(key, p))) return true;
        if (pins.length === 0 && target.acceptNewHostKey) {
          target.acceptNewHostKey(sshFingerprint(key));
          return true;
        }
        offered = sshFingerprint(key);
        return false;
      },
      ...options.connect,
    });
  }
}
