/**
 * Smoke test of the throwaway service launchers (demo/stack): real PostgreSQL and Redis servers on
 * free ports, driven with pg and node-redis as rekey will drive them.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import pg from 'pg';
import { createClient } from 'redis';
import { beforeAll, describe, expect, it } from 'vitest';
import { asSuperuser, createLoginRole } from '../../demo/stack/postgres-roles.js';
import type { RedisMode, RedisServer } from '../../demo/stack/redis.js';
import { scramVerifier } from '../../demo/stack/scram.js';
import { usePostgres, useRedis, withRedisClient } from '../helpers/services.js';

describe('scramVerifier', () => {
  it('follows the SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey> format, deterministic per salt', () => {
    const salt = Buffer.alloc(16, 7);
    const verifier = scramVerifier('pencil', 4096, salt);
    expect(verifier).toMatch(
      /^SCRAM-SHA-256\$4096:[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$/,
    );
    expect(verifier).toBe(scramVerifier('pencil', 4096, salt));
    expect(verifier).not.toBe(scramVerifier('pencil'));
  });
});

describe('throwaway PostgreSQL', () => {
  const server = usePostgres({ logStatementAll: true });
  const canary = `canary-${randomBytes(12).toString('hex')}`;
  let verifier = '';

  const login = async (password: string) => {
    const { host, port } = server();
    const client = new pg.Client({ host, port, user: 'app', password, database: 'bi' });
    client.on('error', () => {});
    await client.connect();
    try {
      return (await client.query('SELECT 1 AS one')).rows;
    } finally {
      await client.end();
    }
  };

  beforeAll(async () => {
    verifier = await createLoginRole(server(), { name: 'app', password: canary, database: 'bi' });
  });

  it('listens on 127.0.0.1 and a free port, never 5432', () => {
    expect(server().host).toBe('127.0.0.1');
    expect(server().port).not.toBe(5432);
  });

  it('lets the created role in with the right password over TCP', async () => {
    expect(await login(canary)).toEqual([{ one: 1 }]);
  });

  it('rejects a wrong password with 28P01', async () => {
    await expect(login(`${canary}x`)).rejects.toMatchObject({ code: '28P01' });
  });

  it('stores the client-computed SCRAM-SHA-256 verifier as-is', async () => {
    const stored = await asSuperuser(server(), async (c) => {
      const { rows } = await c.query<{ rolpassword: string }>(
        "SELECT rolpassword FROM pg_authid WHERE rolname = 'app'",
      );
      return rows[0]?.rolpassword;
    });
    expect(stored).toMatch(/^SCRAM-SHA-256\$4096:/);
    expect(stored).toBe(verifier);
  });

  it('computes the same verifier as the server does for the same salt', async () => {
    const stored = await asSuperuser(server(), async (c) => {
      await c.query("CREATE ROLE server_hashed LOGIN PASSWORD 'hashed-by-the-server'");
      const { rows } = await c.query<{ rolpassword: string }>(
        "SELECT rolpassword FROM pg_authid WHERE rolname = 'server_hashed'",
      );
      return rows[0]?.rolpassword ?? '';
    });
    const salt = Buffer.from(stored.split('$')[1]?.split(':')[1] ?? '', 'base64');
    expect(scramVerifier('hashed-by-the-server', 4096, salt)).toBe(stored);
  });

  it('never writes the plaintext to the statement log (log_statement=all)', async () => {
    const log = await server().readLog();
    expect(log).toContain('CREATE ROLE "app" LOGIN PASSWORD');
    expect(log).toContain(verifier);
    expect(log).not.toContain(canary);
  });

  it('keeps the data dir, the port and the role across restart()', async () => {
    const { port } = server();
    await server().restart();
    expect(server().port).toBe(port);
    expect(await login(canary)).toEqual([{ one: 1 }]);
  });

  it('stop() is idempotent and removes the temp dir', async () => {
    await server().stop();
    await server().stop();
    expect(existsSync(server().dataDir)).toBe(false);
  });
});

/** AUTH (via the client's password) + PING on a new connection. */
async function ping(server: RedisServer, password: string): Promise<string> {
  const client = createClient({
    socket: { host: server.host, port: server.port, reconnectStrategy: false },
    password,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    return await client.ping();
  } finally {
    if (client.isOpen) client.destroy();
  }
}

/** Runs one command as the default user with `password`. */
async function command(server: RedisServer, password: string, args: string[]): Promise<unknown> {
  return withRedisClient(server, password, (client) => client.sendCommand(args));
}

describe.each<RedisMode>(['config', 'aclfile', 'cmdline'])('throwaway Redis, %s mode', (mode) => {
  const password = `redis-${randomBytes(9).toString('hex')}`;
  const server = useRedis({ password, mode });

  it('listens on 127.0.0.1 and a free port, never 6379, laid out as the mode says', () => {
    expect(server().host).toBe('127.0.0.1');
    expect(server().port).not.toBe(6379);
    expect(server().configFile !== undefined).toBe(mode !== 'cmdline');
    expect(server().aclFile !== undefined).toBe(mode === 'aclfile');
  });

  it('answers AUTH + PING with PONG for the right password, WRONGPASS for a wrong one', async () => {
    expect(await ping(server(), password)).toBe('PONG');
    await expect(ping(server(), `${password}x`)).rejects.toThrow(/WRONGPASS/);
  });

  it('keeps the password across restart() and after a crash (kill)', async () => {
    await server().restart();
    expect(await ping(server(), password)).toBe('PONG');
    await server().kill();
    await server().restart();
    expect(await ping(server(), password)).toBe('PONG');
    await expect(ping(server(), 'wrong')).rejects.toThrow(/WRONGPASS/);
  });

  it('persists a changed password only where the mode allows it (SERVICE-FACTS.md)', async () => {
    const next = `${password}-next`;
    if (mode === 'config') {
      await command(server(), password, ['CONFIG', 'SET', 'requirepass', next]);
      await command(server(), next, ['CONFIG', 'REWRITE']);
    } else if (mode === 'aclfile') {
      await command(server(), password, ['ACL', 'SETUSER', 'default', 'resetpass', `>${next}`]);
      await command(server(), next, ['ACL', 'SAVE']);
    } else {
      await command(server(), password, ['CONFIG', 'SET', 'requirepass', next]);
      await expect(command(server(), next, ['CONFIG', 'REWRITE'])).rejects.toThrow(/without a config file/);
    }
    await server().restart();
    if (mode === 'cmdline') {
      // Lost at restart: the command line still carries the old password, until the deploy passes the new one.
      expect(await ping(server(), password)).toBe('PONG');
      await server().restart({ password: next });
    }
    expect(await ping(server(), next)).toBe('PONG');
    await expect(ping(server(), password)).rejects.toThrow(/WRONGPASS/);
  });

  it('stop() is idempotent and removes the dir', async () => {
    await server().stop();
    await server().stop();
    expect(existsSync(server().dir)).toBe(false);
  });
});
