/**
 * Independent observers for the Redis target tests: they talk to the throwaway server with their
 * own node-redis clients (never through the code under test), record what crosses the wire, and
 * build the secret config a test drives.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { createClient } from 'redis';
import type { RedisServer } from '../../../demo/stack/redis.js';
import type { SecretConfigOf } from '../../../src/config/schema.js';
import { silentLogger } from '../../../src/lib/log.js';
import type { TargetContext, Values } from '../../../src/targets/types.js';

export const ctx: TargetContext = { trigger: 'scheduled', log: silentLogger };
export const KEY = 'REDIS_PASSWORD';

/** A fresh random password, recognisable in a dump. */
export const canary = (label: string) => `${label}Canary${randomBytes(12).toString('hex')}`;

export const values = (password: string): Values => ({ [KEY]: password });

/**
 * Writes a stack into `dir`: `.env` (0600) with the `env` lines, and a rekey.yaml with one
 * `type: redis` secret (REDIS_PASSWORD) on 127.0.0.1:`port`, its extra `fields` (`user: app, …`), then
 * the `more` lines.
 *
 * @example
 * await writeRedisStack(dir, { port: redis().port, env: [`REDIS_PASSWORD=${old}`], more: ['sessions: …'] });
 */
export async function writeRedisStack(
  dir: string,
  stack: { port: number; env: readonly string[]; fields?: string; more?: readonly string[] },
): Promise<void> {
  await fs.writeFile(path.join(dir, '.env'), `${stack.env.join('\n')}\n`, { mode: 0o600 });
  const fields = stack.fields ? `, ${stack.fields}` : '';
  await fs.writeFile(
    path.join(dir, 'rekey.yaml'),
    [
      'envFile: .env',
      'secrets:',
      `  - { key: ${KEY}, type: redis, host: 127.0.0.1, port: ${stack.port}${fields} }`,
      ...(stack.more ?? []),
    ].join('\n'),
  );
}

export function secretFor(
  server: { host: string; port: number },
  overrides: Partial<SecretConfigOf<'redis'>> = {},
): SecretConfigOf<'redis'> {
  return {
    key: KEY,
    type: 'redis',
    host: server.host,
    port: server.port,
    user: 'default',
    tls: false,
    persist: 'auto',
    ...overrides,
  };
}

type Client = ReturnType<typeof createClient>;

/** A connected client authenticated with `password` (and `user` when not default). */
export async function connect(
  server: { host: string; port: number },
  password: string,
  user?: string,
): Promise<Client> {
  const client = createClient({
    socket: { host: server.host, port: server.port, reconnectStrategy: false, connectTimeout: 3000 },
    ...(user ? { username: user } : {}),
    password,
  });
  client.on('error', () => {});
  await client.connect();
  return client;
}

/** AUTH + PING on a NEW connection: 'PONG', or the error's first word (e.g. 'WRONGPASS'). */
export async function login(server: { host: string; port: number }, password: string, user?: string) {
  let client: Client | undefined;
  try {
    client = await connect(server, password, user);
    return await client.ping();
  } catch (err) {
    return (err as Error).message.split(' ')[0] ?? 'error';
  } finally {
    if (client?.isOpen) client.destroy();
  }
}

/** Runs one command as `password`'s user on a new connection. */
export async function admin(server: RedisServer, password: string, args: string[]): Promise<unknown> {
  const client = await connect(server, password);
  try {
    return await client.sendCommand(args);
  } finally {
    client.destroy();
  }
}

/** The password hashes `ACL GETUSER` lists. */
export async function aclPasswords(
  server: RedisServer,
  password: string,
  user = 'default',
): Promise<string[]> {
  const reply = (await admin(server, password, ['ACL', 'GETUSER', user])) as unknown[];
  const i = reply.indexOf('passwords');
  return (reply[i + 1] as string[]) ?? [];
}

/**
 * A TCP proxy in front of a server that records every byte clients send: what a packet capture on
 * the wire would see, whatever the server chooses to redact in MONITOR or SLOWLOG.
 */
export async function recordingProxy(target: { host: string; port: number }) {
  const chunks: Buffer[] = [];
  const proxy = await tamperingProxy(target, (chunk) => {
    chunks.push(chunk);
    return chunk;
  });
  return {
    ...proxy,
    /** Every command sent so far, as arrays of arguments. */
    commands: () => parseCommands(Buffer.concat(chunks)),
    raw: () => Buffer.concat(chunks),
  };
}

/** Parses a client→server RESP stream (arrays of bulk strings) into commands. */
export function parseCommands(buf: Buffer): string[][] {
  const commands: string[][] = [];
  let pos = 0;
  const line = () => {
    const end = buf.indexOf('\r\n', pos);
    if (end < 0) throw new Error(`truncated RESP at ${pos}`);
    const text = buf.subarray(pos, end).toString('latin1');
    pos = end + 2;
    return text;
  };
  while (pos < buf.length) {
    const head = line();
    if (!head.startsWith('*')) throw new Error(`not a RESP array: ${JSON.stringify(head.slice(0, 20))}`);
    const args: string[] = [];
    for (let n = Number(head.slice(1)); n > 0; n--) {
      const len = Number(line().slice(1));
      args.push(buf.subarray(pos, pos + len).toString('utf8'));
      pos += len + 2;
    }
    commands.push(args);
  }
  return commands;
}

/**
 * A TCP proxy in front of a server that passes every client→server chunk through `tamper` first
 * (what a fault in the network or the server would do to a command), server→client untouched.
 */
export async function tamperingProxy(
  target: { host: string; port: number },
  tamper: (chunk: Buffer) => Buffer | Promise<Buffer>,
) {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    sockets.add(client).add(upstream);
    // One chunk at a time, in order, even when `tamper` awaits something.
    let chain = Promise.resolve();
    client.on('data', (d) => {
      const chunk = Buffer.from(d);
      chain = chain.then(async () => {
        const out = await tamper(chunk);
        if (!upstream.destroyed) upstream.write(out);
      });
    });
    upstream.pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    host: '127.0.0.1' as const,
    port,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
