/**
 * The demo app's one retry of a Redis read whose connection was closed under it (backends.ts, `read`):
 * what a compromise rotation's `CLIENT KILL USER` does to the app's node-redis client. A TCP proxy in
 * front of a real Redis holds the app's `GET`s (the command is in flight: sent, not answered) and
 * closes the app's connection on demand, exactly as the server closes a killed client: with a close,
 * or with a reset (what the server's kernel sends when the killed client's last command was still
 * unread: the last test makes a real Redis do that).
 */
import net from 'node:net';
import { ClientOfflineError, SocketClosedUnexpectedlyError } from 'redis';
import { afterEach, describe, expect, it } from 'vitest';
import { type Backends, openBackends } from '../../demo/app/backends.js';
import type { AppConfig } from '../../demo/app/config.js';
import { createLog } from '../../demo/app/log.js';
import { sleep } from '../../demo/stack/wait.js';
import { useRedis } from '../helpers/services.js';
import { until } from './helpers.js';

const redis = useRedis();

interface Proxy {
  port: number;
  /** `GET` commands the proxy swallowed (never forwarded, so never answered). */
  held: number;
  /** Swallow every `GET` from now on (true) or forward everything (false). */
  holdGets: boolean;
  /** How long a new connection waits before it is forwarded (a slow reconnect). */
  connectDelayMs: number;
  /** Closes every client connection, as Redis closes a killed client. */
  cut(): void;
  /** Resets every client connection (TCP RST), as Redis's kernel ends a killed client with unread input. */
  reset(): void;
  /** Stops accepting connections (Redis down); cut() then leaves the client nothing to reconnect to. */
  refuse(): Promise<void>;
  close(): Promise<void>;
}

async function startProxy(upstreamPort: number): Promise<Proxy> {
  const clients = new Set<net.Socket>();
  const server = net.createServer((client) => {
    clients.add(client);
    const upstream = new net.Socket();
    client.on('close', () => {
      clients.delete(client);
      upstream.destroy();
    });
    client.on('error', () => {});
    upstream.on('error', () => client.destroy());
    upstream.on('close', () => client.destroy());
    client.pause();
    setTimeout(() => {
      upstream.connect(upstreamPort, '127.0.0.1', () => client.resume());
    }, proxy.connectDelayMs);
    upstream.on('data', (d: Buffer) => client.write(d));
    client.on('data', (d: Buffer) => {
      if (proxy.holdGets && d.toString().includes('\r\nGET\r\n')) {
        proxy.held++;
        return;
      }
      upstream.write(d);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const proxy: Proxy = {
    port: (server.address() as net.AddressInfo).port,
    held: 0,
    holdGets: false,
    connectDelayMs: 0,
    cut() {
      for (const c of clients) c.destroy();
    },
    reset() {
      for (const c of clients) c.resetAndDestroy();
    },
    refuse: () => new Promise<void>((resolve) => server.close(() => resolve())),
    async close() {
      const closed = server.listening ? proxy.refuse() : Promise.resolve();
      proxy.cut();
      await closed;
    },
  };
  return proxy;
}

describe('demo app: a Redis read closed under it is retried once', () => {
  let proxy: Proxy;
  let backends: Backends;
  const logs: string[] = [];

  /** Opens the app's backends through a new proxy, or straight to Redis with `direct`. */
  const open = async (direct = false) => {
    proxy = await startProxy(redis().port);
    const config = {
      postgres: { host: '127.0.0.1', port: 1, user: 'x', password: 'x', database: 'x' },
      redis: { host: '127.0.0.1', port: direct ? redis().port : proxy.port, password: redis().password },
    } as AppConfig;
    backends = openBackends(
      config,
      createLog('app', (line) => logs.push(line)),
    );
    await backends.firstAttempt();
    expect(backends.redis.isReady).toBe(true);
    await backends.redis.sendCommand(['SET', 'retry:k', 'v']);
  };
  afterEach(async () => {
    await backends?.close();
    await proxy?.close();
  });

  it.each([
    ['closed', 'cut', (e: unknown) => expect(e).toBeInstanceOf(SocketClosedUnexpectedlyError)],
    // node-redis rejects the in-flight command with the socket's own error on a reset.
    ['reset', 'reset', (e: unknown) => expect(e).toMatchObject({ code: 'ECONNRESET' })],
  ] as const)(
    'a GET in flight when the connection is %s answers after the reconnect',
    async (_, end, seen) => {
      await open();
      proxy.holdGets = true;
      // Without the retry, node-redis rejects the in-flight command: what an app sees on CLIENT KILL.
      const raw = backends.redis.sendCommand(['GET', 'retry:k']).catch((e: unknown) => e);
      await until(() => proxy.held === 1, 'the GET held');
      proxy.holdGets = false;
      proxy[end]();
      seen(await raw);
      await until(() => backends.redis.isReady, 'the reconnect');

      proxy.holdGets = true;
      const read = backends.read(['GET', 'retry:k']);
      await until(() => proxy.held === 2, 'the second GET held');
      proxy.holdGets = false;
      proxy[end]();
      expect(await read).toBe('v');
      // And a PING sent during the reconnect that follows waits for it too (the health probe).
      proxy.connectDelayMs = 300;
      proxy[end]();
      await until(() => !backends.redis.isReady, 'the close');
      expect(await backends.read(['PING'])).toBe('PONG');
    },
  );

  it('a GET sent while the client reconnects after such a close waits for it, then answers', async () => {
    await open();
    proxy.connectDelayMs = 300;
    proxy.cut();
    await until(() => !backends.redis.isReady, 'the close');
    // The offline queue is off: node-redis fails the command at once; read() waits for the reconnect.
    await expect(backends.redis.sendCommand(['GET', 'retry:k'])).rejects.toBeInstanceOf(ClientOfflineError);
    expect(await backends.read(['GET', 'retry:k'])).toBe('v');
  });

  it('only once: a second close under the retried GET is the answer', async () => {
    await open();
    proxy.holdGets = true;
    const read = backends.read(['GET', 'retry:k']).catch((e: unknown) => e);
    await until(() => proxy.held === 1, 'the GET held');
    proxy.cut();
    await until(() => proxy.held === 2, 'the second GET held');
    proxy.cut();
    expect(await read).toBeInstanceOf(SocketClosedUnexpectedlyError);
    expect(proxy.held).toBe(2);
  });

  it('a Redis that is down still fails at once (no waiting for a reconnect that cannot come)', async () => {
    await open();
    const refused = proxy.refuse(); // stops listening at once; resolves when the last connection ended
    proxy.cut();
    await refused;
    await until(() => !backends.redis.isReady, 'the close');
    await sleep(50); // the reconnect attempt is refused
    const started = Date.now();
    await expect(backends.read(['PING'])).rejects.toBeInstanceOf(ClientOfflineError);
    expect(Date.now() - started).toBeLessThan(100);
    expect((await backends.health()).redis).toBe('error');
  });

  it('a real Redis resets a killed connection whose command it had not read yet; read() still answers', async () => {
    await open(true);
    // The app is connected straight to Redis here. A script keeps the server busy for 300 ms, and the
    // kill of the app's connection runs right after it, from the same read of this socket.
    const killWhileBusy = async () => {
      const id = String(await backends.redis.sendCommand(['CLIENT', 'ID']));
      const busy =
        "local t = redis.call('TIME'); local s = t[1] * 1e6 + t[2]; " +
        "repeat t = redis.call('TIME') until t[1] * 1e6 + t[2] - s > 300000; return 1";
      const resp = (args: string[]) =>
        `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
      const admin = net.connect(redis().port, '127.0.0.1');
      let replies = '';
      admin.on('data', (d: Buffer) => {
        replies += d.toString();
      });
      admin.write(
        resp(['AUTH', redis().password]) + resp(['EVAL', busy, '0']) + resp(['CLIENT', 'KILL', 'ID', id]),
      );
      await sleep(100);
      return async () => {
        await until(() => replies.includes(':1\r\n:1\r\n'), 'the script and the kill');
        admin.destroy();
      };
    };
    // Sent while the server is busy: still unread in its socket when the kill closes it.
    let done = await killWhileBusy();
    const raw = backends.redis.sendCommand(['GET', 'retry:k']).catch((e: unknown) => e);
    expect(await raw).toMatchObject({ code: 'ECONNRESET' });
    await done();
    // The same again through read(): answered after the reconnect.
    await until(() => backends.redis.isReady, 'the reconnect');
    done = await killWhileBusy();
    expect(await backends.read(['GET', 'retry:k'])).toBe('v');
    await done();
  });
});
