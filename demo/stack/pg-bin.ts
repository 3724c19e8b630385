/**
 * Where PostgreSQL's server programs are, and the system user they run as when we are root.
 * On Debian they live in /usr/lib/postgresql/<major>/bin, which is not on PATH.
 */
import { readdir, readFile, realpath } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { isExecutable, run, which } from './exec.js';

const hasServer = async (dir: string) =>
  (await isExecutable(join(dir, 'initdb'))) && (await isExecutable(join(dir, 'postgres')));

const INSTALL_HINT =
  'install PostgreSQL (Debian/Ubuntu: apt-get install postgresql; or run scripts/ensure-services.sh), or set REKEY_PG_BINDIR';

/**
 * The directory holding `initdb` and `postgres`: $REKEY_PG_BINDIR, else `pg_config --bindir`, else
 * the newest /usr/lib/postgresql/<major>/bin, else the directory of `initdb` on PATH.
 *
 * @example
 * const bindir = await findPostgresBinDir(); // '/usr/lib/postgresql/15/bin'
 */
export async function findPostgresBinDir(): Promise<string> {
  const override = process.env.REKEY_PG_BINDIR;
  if (override) {
    if (await hasServer(override)) return override;
    throw new Error(`REKEY_PG_BINDIR=${override} has no initdb and postgres`);
  }
  const pgConfig = await which('pg_config');
  if (pgConfig !== undefined) {
    // libpq-dev's pg_config may name a newer major than the server installed: check the programs.
    const bindir = (await run(pgConfig, ['--bindir']).catch(() => '')).trim();
    if (bindir !== '' && (await hasServer(bindir))) return bindir;
  }
  const majors = await readdir('/usr/lib/postgresql').catch(() => [] as string[]);
  majors.sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a));
  for (const major of majors) {
    const dir = join('/usr/lib/postgresql', major, 'bin');
    if (await hasServer(dir)) return dir;
  }
  const initdb = await which('initdb');
  if (initdb !== undefined) {
    const dir = dirname(await realpath(initdb));
    if (await hasServer(dir)) return dir;
  }
  throw new Error(`PostgreSQL server programs (initdb, postgres) not found: ${INSTALL_HINT}`);
}

/** A system user's numeric ids. */
export interface SystemUser {
  name: string;
  uid: number;
  gid: number;
}

/**
 * Looks up a system user with `getent passwd`; a clear error when it does not exist.
 *
 * @example
 * const pgUser = await systemUser('postgres'); // { name: 'postgres', uid: 101, gid: 104 }
 */
export async function systemUser(name: string): Promise<SystemUser> {
  const line =
    (await run('getent', ['passwd', name]).catch(() => '')) ||
    ((await readFile('/etc/passwd', 'utf8').catch(() => ''))
      .split('\n')
      .find((l) => l.startsWith(`${name}:`)) ??
      '');
  const [, , uid, gid] = line.trim().split(':');
  if (uid === undefined || gid === undefined) {
    throw new Error(
      `running PostgreSQL as root needs the '${name}' system user (created by the postgresql package): ${INSTALL_HINT}, or run as a non-root user`,
    );
  }
  return { name, uid: Number(uid), gid: Number(gid) };
}
