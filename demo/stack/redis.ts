/**
 * Throwaway Redis servers on 127.0.0.1 and a free port, password-protected in one of the three ways
 * deployments do it, so rotation code can be tested against each:
 * - 'config'  (default): a config file with `requirepass` (CONFIG REWRITE can persist a change);
 * - 'aclfile': a config file naming an ACL file with `user default on #<sha256> ...` (ACL SAVE persists);
 * - 'cmdline': no config file, `--requirepass` on the command line. The password is then visible in
 *   `ps` until Redis rewrites its process title: that exposure, and a rotation that cannot be
 *   persisted (CONFIG REWRITE fails without a config file), are exactly what this mode simulates.
 *   Test-only: never start a real server like this.
 */
import { createHash } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { removeOwnedDir } from '../../src/lib/owned-dir.js';
import { type ServerProcess, spawnServer, trackDir } from './children.js';
import { tail, which } from './exec.js';
import { freePort } from './ports.js';
import { simpleCommands } from './resp.js';
import { makeServerDir } from './tmp.js';
import { waitUntil } from './wait.js';

export type RedisMode = 'config' | 'aclfile' | 'cmdline';

export interface RedisOptions {
  /** Let the server outlive this process (see spawnServer); its temp dir is not removed at exit. */
  persistent?: boolean;
  /** The default user's password. */
  password: string;
  mode?: RedisMode;
  /** How long to wait for PING to answer (default 30 s). */
  startTimeoutMs?: number;
}

export interface RedisServer {
  /** The server's process id (changes on restart). */
  readonly pid: number;
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly mode: RedisMode;
  /** The server's working dir (its temp dir). */
  readonly dir: string;
  /** Absent in 'cmdline' mode. */
  readonly configFile?: string;
  /** Only in 'aclfile' mode. */
  readonly aclFile?: string;
  readonly logFile: string;
  /** The password given at start (in 'cmdline' mode, the last one passed to `restart`). */
  readonly password: string;
  /** Stops the server and removes its dir. Idempotent. */
  stop(): Promise<void>;
  /**
   * Stops and starts it again from the same config file (or, in 'cmdline' mode, the same arguments,
   * with `password` replacing the password: what a deploy that passes the new one does).
   */
  restart(options?: { password?: string }): Promise<void>;
  /** SIGKILL, like a crash: the dir stays, `restart()` brings the server back. */
  kill(): Promise<void>;
}

/** Quotes a value for redis.conf (double quotes; backslash, quote and non-printables escaped). */
export function redisConfQuote(value: string): string {
  const escaped = value.replace(/[\\"]|[^\x20-\x7e]/g, (c) =>
    c === '\\' || c === '"'
      ? `\\${c}`
      : [...Buffer.from(c, 'utf8')].map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join(''),
  );
  return `"${escaped}"`;
}

/** `#<sha256 hex>`: the form Redis ACL rules take for a pre-hashed password. */
export const aclPasswordHash = (password: string) =>
  `#${createHash('sha256').update(password, 'utf8').digest('hex')}`;

interface Layout {
  dir: string;
  logFile: string;
  configFile?: string;
  aclFile?: string;
}

function configText(port: number, layout: Layout, mode: RedisMode, password: string): string {
  const lines = [
    "# written by rekey's throwaway launcher",
    `port ${port}`,
    'bind 127.0.0.1',
    `dir ${redisConfQuote(layout.dir)}`,
    'save ""',
    'appendonly no',
    `logfile ${redisConfQuote(layout.logFile)}`,
    'daemonize no',
    mode === 'aclfile'
      ? `aclfile ${redisConfQuote(layout.aclFile ?? '')}`
      : `requirepass ${redisConfQuote(password)}`,
  ];
  return `${lines.join('\n')}\n`;
}

function cmdlineArgs(port: number, layout: Layout, password: string): string[] {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', layout.dir, '--save', ''];
  args.push('--appendonly', 'no', '--logfile', layout.logFile, '--daemonize', 'no');
  // 'cmdline' mode simulates a deployment that passes the password in argv (see the file comment).
  args.push('--requirepass', password);
  return args;
}

class PortTaken extends Error {}

/**
 * Starts a throwaway redis-server, waits until it answers PING, and checks that `AUTH <password>`
 * + `PING` answers PONG.
 * Always call `stop()`; the server is also killed when this process exits.
 *
 * @example
 * const redis = await startRedis({ password: 'pw', mode: 'aclfile' });
 * const client = createClient({ socket: { host: redis.host, port: redis.port }, password: 'pw' });
 * // ...
 * await redis.stop();
 */
export async function startRedis(options: RedisOptions): Promise<RedisServer> {
  const binary = await which('redis-server');
  if (binary === undefined) {
    throw new Error(
      'redis-server not found on PATH: install it (Debian/Ubuntu: apt-get install redis-server; or run scripts/ensure-services.sh)',
    );
  }
  const mode = options.mode ?? 'config';
  const timeoutMs = options.startTimeoutMs ?? 30_000;
  const dir = await makeServerDir('rekey-redis-');
  const untrack = (options.persistent ? () => () => {} : trackDir)(dir);
  const layout: Layout = {
    dir,
    logFile: join(dir, 'redis.log'),
    ...(mode === 'cmdline' ? {} : { configFile: join(dir, 'redis.conf') }),
    ...(mode === 'aclfile' ? { aclFile: join(dir, 'users.acl') } : {}),
  };
  let password = options.password;
  let port = 0;

  const launch = async (checkPassword: boolean): Promise<ServerProcess> => {
    const offset = (await stat(layout.logFile).catch(() => ({ size: 0 }))).size;
    const logSince = async () => (await readFile(layout.logFile, 'utf8').catch(() => '')).slice(offset);
    const args = layout.configFile !== undefined ? [layout.configFile] : cmdlineArgs(port, layout, password);
    const proc = await spawnServer(binary, args, {
      persistent: options.persistent ?? false,
      logFile: layout.logFile,
      exitSignal: 'SIGKILL',
      deathSignal: 'SIGKILL',
      cwd: dir,
    });
    try {
      await waitUntil(
        async () => {
          if (!proc.alive()) {
            const log = await logSince();
            if (/Address already in use/.test(log)) throw new PortTaken(`port ${port} is taken`);
            throw new Error(`redis-server exited during start-up${tail(log)}`);
          }
          // Any answer but LOADING means it serves: PONG, or NOAUTH when a password is required (after a
          // rotation and restart the password may no longer be the one we started with).
          const [reply] = await simpleCommands('127.0.0.1', port, [['PING']]).catch(() => []);
          return reply === undefined || reply.startsWith('-LOADING') ? undefined : true;
        },
        {
          timeoutMs,
          onTimeout: async () =>
            new Error(
              `redis-server did not answer PING on port ${port} within ${timeoutMs} ms${tail(await logSince())}`,
            ),
        },
      );
      if (checkPassword) {
        const replies = await simpleCommands('127.0.0.1', port, [['AUTH', password], ['PING']]);
        if (replies[1] !== '+PONG')
          throw new Error(`redis-server rejected the password it was started with: ${replies[0]}`);
      }
      return proc;
    } catch (error) {
      await proc.stop('SIGKILL');
      throw error;
    }
  };

  let proc: ServerProcess;
  try {
    if (layout.aclFile !== undefined) {
      await writeFile(layout.aclFile, `user default on ${aclPasswordHash(password)} ~* &* +@all\n`, {
        mode: 0o600,
      });
    }
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      if (layout.configFile !== undefined) {
        await writeFile(layout.configFile, configText(port, layout, mode, password), { mode: 0o600 });
      }
      try {
        proc = await launch(true);
        break;
      } catch (error) {
        if (!(error instanceof PortTaken) || attempt === 3) throw error;
      }
    }
  } catch (error) {
    await removeOwnedDir(dir);
    untrack();
    throw error;
  }

  let stopping: Promise<void> | undefined;
  return {
    get pid() {
      return proc.pid;
    },
    host: '127.0.0.1',
    port,
    mode,
    ...layout,
    get password() {
      return password;
    },
    stop() {
      stopping ??= (async () => {
        await proc.stop('SIGTERM', 10_000);
        await removeOwnedDir(dir);
        untrack();
      })();
      return stopping;
    },
    async restart(restartOptions = {}) {
      if (stopping !== undefined) throw new Error('this Redis server was stopped; start a new one');
      if (restartOptions.password !== undefined) {
        if (mode !== 'cmdline')
          throw new Error(`restart({ password }) is for 'cmdline' mode; '${mode}' reads its files`);
        password = restartOptions.password;
      }
      await proc.stop('SIGTERM', 10_000);
      proc = await launch(mode === 'cmdline');
    },
    async kill() {
      await proc.stop('SIGKILL');
    },
  };
}
