/**
 * Free TCP ports for throwaway servers. The kernel picks one (listen on port 0), we read it and
 * close the listener; the caller binds it right after (a start retries with a new port if another
 * process took it in between).
 */
import { createServer } from 'node:net';

/** Ports that belong to real services on a developer machine: a throwaway server never takes them. */
export const RESERVED_PORTS: ReadonlySet<number> = new Set([3000, 5432, 6379, 8000]);

/**
 * Returns a TCP port that was free on `host` a moment ago, never one of {@link RESERVED_PORTS}.
 *
 * @example
 * const port = await freePort(); // e.g. 41873
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.unref();
      server.once('error', reject);
      server.listen({ port: 0, host, exclusive: true }, () => {
        const address = server.address();
        const found = typeof address === 'object' && address !== null ? address.port : 0;
        server.close(() => resolve(found));
      });
    });
    if (port > 0 && !RESERVED_PORTS.has(port)) return port;
  }
}
