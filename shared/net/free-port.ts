/**
 * An ephemeral port that was free on `host` a moment ago (bind port 0, read it, close). For the
 * sandbox and the drill, which must name a port in a config before the process that binds it starts.
 */
import { createServer } from 'node:net';

export function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}
