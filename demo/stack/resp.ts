/**
 * A minimal RESP client for readiness checks: sends commands whose replies are simple strings or
 * errors (AUTH, PING) and returns those reply lines. Real work goes through node-redis.
 */
import { connect } from 'node:net';

const encode = (command: readonly string[]) =>
  `*${command.length}\r\n${command.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join('')}`;

/**
 * Sends `commands` on one new connection and resolves with one reply line per command, such as
 * `+PONG` or `-WRONGPASS ...`. Rejects when the connection fails (e.g. ECONNREFUSED while starting).
 *
 * @example
 * const [auth, ping] = await simpleCommands('127.0.0.1', port, [['AUTH', pw], ['PING']]); // '+OK', '+PONG'
 */
export function simpleCommands(
  host: string,
  port: number,
  commands: readonly (readonly string[])[],
  timeoutMs = 2_000,
): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    let buffered = '';
    const finish = (error: Error | undefined, replies?: string[]) => {
      socket.destroy();
      if (error !== undefined) reject(error);
      else resolve(replies ?? []);
    };
    socket.setTimeout(timeoutMs, () =>
      finish(new Error(`no reply from ${host}:${port} within ${timeoutMs} ms`)),
    );
    socket.once('error', (error) => finish(error));
    socket.once('close', () => finish(new Error(`${host}:${port} closed the connection`)));
    socket.on('data', (chunk) => {
      buffered += chunk.toString('utf8');
      const lines = buffered.split('\r\n').slice(0, -1);
      if (lines.length >= commands.length) finish(undefined, lines.slice(0, commands.length));
    });
    socket.once('connect', () => socket.write(commands.map(encode).join('')));
  });
}
