/**
 * The benchmarks' own Redis traffic (bulk loading, the latency probe, INFO and FLUSHALL) through
 * node-redis, the client rekey itself uses: commands issued in the same tick are written in one go,
 * so a batch of SETs is a real pipeline. A benchmark that loses its connection fails (no reconnects).
 */
import { createClient } from 'redis';

type Client = ReturnType<typeof createClient>;

/**
 * @example
 * const r = await RawRedis.open('127.0.0.1', port, password);
 * await r.send(['PING']); // 'PONG'
 * await r.close();
 */
export class RawRedis {
  readonly #client: Client;

  private constructor(client: Client) {
    this.#client = client;
  }

  /** Connects with the password (user `default`) and selects `db`. */
  static async open(host: string, port: number, password?: string, db = 0): Promise<RawRedis> {
    const client = createClient({
      socket: { host, port, noDelay: true, reconnectStrategy: false },
      ...(password === undefined ? {} : { password }),
      database: db,
    });
    client.on('error', () => {}); // a failed command rejects; the event must not crash the bench
    await client.connect();
    return new RawRedis(client);
  }

  /** Sends one command; resolves with its reply, rejects on an error reply. */
  send(args: readonly string[]): Promise<unknown> {
    return this.#client.sendCommand(args);
  }

  /** Sends the commands as one pipeline (no MULTI); resolves once every reply is in. */
  async pipeline(commands: readonly (readonly string[])[]): Promise<void> {
    await Promise.all(commands.map((c) => this.#client.sendCommand(c)));
  }

  /** Sends one command and returns its reply as text. */
  async text(args: readonly string[]): Promise<string> {
    return String(await this.send(args));
  }

  async close(): Promise<void> {
    this.#client.destroy();
  }
}
