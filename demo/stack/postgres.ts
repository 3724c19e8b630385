/**
 * Throwaway PostgreSQL servers: a fresh cluster in a temp dir, SCRAM-SHA-256 everywhere, listening on
 * 127.0.0.1 and a free port only, its stderr in a log file the tests can read. `rekey demo` and the
 * integration tests use it; nothing here touches a system-wide cluster.
 */
import { randomBytes } from 'node:crypto';
import { appendFile, chown, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { removeOwnedDir } from '../../src/lib/owned-dir.js';
import { type ServerProcess, spawnServer, trackDir } from './children.js';
import { isRoot, run, tail, wrapCommand } from './exec.js';
import { findPostgresBinDir, type SystemUser, systemUser } from './pg-bin.js';
import { freePort } from './ports.js';
import { makeServerDir } from './tmp.js';
import { waitUntil } from './wait.js';

export interface PostgresOptions {
  /** Let the server outlive this process (see spawnServer); its temp dir is not removed at exit. */
  persistent?: boolean;
  /** `log_statement = 'all'`: every statement lands in the log (for "no secret in the log" tests). */
  logStatementAll?: boolean;
  /** The superuser's password; random when omitted. Never passed on a command line. */
  superuserPassword?: string;
  /** How long to wait for the server to accept connections (default 30 s). */
  startTimeoutMs?: number;
  /** More postgresql.conf settings, written as `key = value` (quote string values yourself). */
  settings?: Record<string, string | number>;
}

export interface PostgresServer {
  /** The server's process id (changes on restart). */
  readonly pid: number;
  readonly host: '127.0.0.1';
  readonly port: number;
  /** The server's temp dir (marked, see src/lib/owned-dir.ts): holds dataDir, socketDir, logFile. */
  readonly dir: string;
  readonly dataDir: string;
  readonly socketDir: string;
  /** The server's stderr (logging_collector is off). */
  readonly logFile: string;
  readonly superuser: 'postgres';
  readonly superuserPassword: string;
  /** Fast shutdown, then removes the temp dir. Idempotent. */
  stop(): Promise<void>;
  /** Fast shutdown and start again: same data dir, same port. */
  restart(): Promise<void>;
  /** Fast shutdown, keeping the data dir (a service that is down); `start()` brings it back. */
  halt(): Promise<void>;
  /** Starts a halted server again (same data dir and port). */
  start(): Promise<void>;
  /** The whole server log so far. */
  readLog(): Promise<string>;
}

const HBA = `# written by rekey's throwaway launcher: SCRAM-SHA-256 for every connection
local all all scram-sha-256
host all all 127.0.0.1/32 scram-sha-256
host all all ::1/128 scram-sha-256
local replication all scram-sha-256
host replication all 127.0.0.1/32 scram-sha-256
host replication all ::1/128 scram-sha-256
`;

const quote = (value: string) => `'${value.replace(/'/g, "''")}'`;

function settingsFile(port: number, socketDir: string, options: PostgresOptions): string {
  const settings: Record<string, string | number> = {
    listen_addresses: quote('127.0.0.1'),
    port,
    unix_socket_directories: quote(socketDir),
    logging_collector: 'off',
    log_destination: quote('stderr'),
    password_encryption: quote('scram-sha-256'),
    // Throwaway data: durability buys nothing and costs seconds.
    fsync: 'off',
    synchronous_commit: 'off',
    full_page_writes: 'off',
    shared_buffers: quote('16MB'),
    ...(options.logStatementAll ? { log_statement: quote('all') } : {}),
    ...options.settings,
  };
  return `${Object.entries(settings)
    .map(([key, value]) => `${key} = ${value}`)
    .join('\n')}\n`;
}

/** Writes a file (0600) owned by the server's user. */
async function writeOwned(path: string, text: string, owner: SystemUser | undefined): Promise<void> {
  await writeFile(path, text, { mode: 0o600 });
  if (owner !== undefined) await chown(path, owner.uid, owner.gid);
}

async function initCluster(
  bindir: string,
  root: string,
  dataDir: string,
  password: string,
  owner?: SystemUser,
) {
  const pwfile = join(root, 'pwfile');
  await writeOwned(pwfile, `${password}\n`, owner);
  try {
    const args = ['-D', dataDir, '-U', 'postgres', '--auth=scram-sha-256', `--pwfile=${pwfile}`];
    args.push('--encoding=UTF8', '--locale=C', '--no-sync');
    const [cmd, argv] = await wrapCommand(join(bindir, 'initdb'), args, {
      user: owner?.name,
      deathSignal: 'SIGKILL',
    });
    await run(cmd, argv, { cwd: root });
  } finally {
    await rm(pwfile, { force: true });
  }
}

const AUTH_FAILED = new Set(['28P01', '28000']);

/** One connection attempt: true when it worked, undefined while the server is not ready yet. */
async function accepts(port: number, password: string): Promise<true | undefined> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password, database: 'postgres' });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.end();
    return true;
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code !== undefined && AUTH_FAILED.has(code))
      throw new Error(`the superuser password was rejected (${code})`);
    await client.end().catch(() => {});
    return undefined;
  }
}

class PortTaken extends Error {}

/**
 * Starts a throwaway PostgreSQL server (initdb into a new temp dir, then `postgres -D`) and waits
 * until it accepts connections. As root, the cluster belongs to the `postgres` system user and the
 * programs run as that user (setpriv). Always call `stop()`; the server is also killed when this
 * process exits.
 *
 * @example
 * const server = await startPostgres({ logStatementAll: true });
 * const client = new pg.Client({ host: server.host, port: server.port, user: 'postgres',
 *   password: server.superuserPassword, database: 'postgres' });
 * // ...
 * await server.stop();
 */
export async function startPostgres(options: PostgresOptions = {}): Promise<PostgresServer> {
  const bindir = await findPostgresBinDir();
  const owner = isRoot() ? await systemUser('postgres') : undefined;
  const password = options.superuserPassword ?? randomBytes(24).toString('base64url');
  const root = await makeServerDir('rekey-pg-', owner);
  const untrack = (options.persistent ? () => () => {} : trackDir)(root);
  const dataDir = join(root, 'data');
  const socketDir = join(root, 'sock');
  const logFile = join(root, 'postgres.log');
  const timeoutMs = options.startTimeoutMs ?? 30_000;
  let port = 0;

  const launch = async (): Promise<ServerProcess> => {
    const offset = (await stat(logFile).catch(() => ({ size: 0 }))).size;
    const logSince = async () => (await readFile(logFile, 'utf8').catch(() => '')).slice(offset);
    const proc = await spawnServer(join(bindir, 'postgres'), ['-D', dataDir], {
      persistent: options.persistent ?? false,
      logFile,
      exitSignal: 'SIGQUIT',
      deathSignal: 'SIGQUIT',
      user: owner?.name,
      cwd: root,
    });
    try {
      await waitUntil(
        async () => {
          if (!proc.alive()) {
            const log = await logSince();
            if (/could not bind|Address already in use/.test(log))
              throw new PortTaken(`port ${port} is taken`);
            throw new Error(`postgres exited during start-up${tail(log)}`);
          }
          return accepts(port, password);
        },
        {
          timeoutMs,
          onTimeout: async () =>
            new Error(
              `postgres did not accept connections on port ${port} within ${timeoutMs} ms${tail(await logSince())}`,
            ),
        },
      );
      return proc;
    } catch (error) {
      await proc.stop('SIGQUIT', 5_000);
      throw error;
    }
  };

  let proc: ServerProcess;
  try {
    await mkdir(socketDir, { mode: 0o700 });
    if (owner !== undefined) await chown(socketDir, owner.uid, owner.gid);
    await initCluster(bindir, root, dataDir, password, owner);
    await writeOwned(join(dataDir, 'pg_hba.conf'), HBA, owner);
    await appendFile(join(dataDir, 'postgresql.conf'), "\ninclude 'rekey.conf'\n");
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      await writeOwned(join(dataDir, 'rekey.conf'), settingsFile(port, socketDir, options), owner);
      try {
        proc = await launch();
        break;
      } catch (error) {
        if (!(error instanceof PortTaken) || attempt === 3) throw error;
      }
    }
  } catch (error) {
    await removeOwnedDir(root);
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
    dir: root,
    dataDir,
    socketDir,
    logFile,
    superuser: 'postgres',
    superuserPassword: password,
    stop() {
      stopping ??= (async () => {
        await proc.stop('SIGINT');
        await removeOwnedDir(root);
        untrack();
      })();
      return stopping;
    },
    async restart() {
      if (stopping !== undefined) throw new Error('this PostgreSQL server was stopped; start a new one');
      await proc.stop('SIGINT');
      proc = await launch();
    },
    async halt() {
      await proc.stop('SIGINT');
    },
    async start() {
      if (stopping !== undefined) throw new Error('this PostgreSQL server was stopped; start a new one');
      if (!proc.alive()) proc = await launch();
    },
    readLog: () => readFile(logFile, 'utf8'),
  };
}
