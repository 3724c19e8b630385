/**
 * One state directory per stack. Several configs may share a folder and a `stateDir` (default
 * `.rekey`): the stack is the env file, identified by its real path, or for a store stack the store
 * (config/store.ts `storeIdentity`, e.g. `aws-ssm:eu-west-1:/bi/production/`), which stands in for
 * the path everywhere below. The first stack to use a state
 * root owns the root itself (the layout of a single-stack install, unchanged); every other stack gets
 * `<root>/stacks/<key>/`, where the key is a readable slug of the env file's name plus a short hash
 * of its real path. The owner is recorded in `<root>/stack-env` (its env file's real path) by the
 * first rotation or change request written there ({@link claimStackState}); loading a config
 * writes nothing.
 *
 * Without `stack-env` (a root written before stacks were told apart, or one not claimed yet), the
 * owner is the env file its pending journal names, else the one its newest archived rotation names,
 * else the stack now loading. So an in-flight journal is always found by the stack it belongs to.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { RekeyError } from '../lib/errors.js';
import { ensurePrivateDir, readIfExists, writeFileExclusive } from '../lib/fsx.js';
import { sha256 } from '../lib/hash.js';
import { foldRecords, parseLog } from '../lib/record-log.js';

/** The file naming the stack that owns a state root (its env file's real path). */
export const ROOT_OWNER_FILE = 'stack-env';

export interface StackState {
  /** The stack's state directory (journal, lock, history, schedule, requests, logs). */
  readonly stateDir: string;
  /** The shared state root (`stateDir` of rekey.yaml): audit chain head, audit key, append lock. */
  readonly stateRoot: string;
  /** `<slug>-<hash>` of the env file's real path; recorded in each audit record. */
  readonly stackKey: string;
}

/**
 * The stack key of an env file: a slug of its name and 12 hex digits of the SHA-256 of its real path.
 *
 * @example
 * stackKeyOf('/srv/app/.env.production'); // 'env.production-3f2a9c81d0b4'
 */
export function stackKeyOf(envRealPath: string): string {
  const slug =
    path
      .basename(envRealPath)
      .replace(/[^A-Za-z0-9._-]+/g, '-')
      .replace(/^[.-]+/, '')
      .slice(0, 40) || 'env';
  return `${slug}-${sha256(envRealPath).slice(0, 12)}`;
}

/**
 * Where a stack's state lives under a state root (reads only).
 *
 * @example
 * const { stateDir } = await stackState('/srv/app/.rekey', '/srv/app/.env.staging');
 * stateDir; // '/srv/app/.rekey/stacks/env.staging-8c1d…' when .env.production owns the root
 */
export async function stackState(stateRoot: string, envRealPath: string): Promise<StackState> {
  const stackKey = stackKeyOf(envRealPath);
  const owner = await rootOwner(stateRoot, envRealPath);
  return {
    stateDir:
      owner === envRealPath || (await orphanedJournal(stateRoot, owner))
        ? stateRoot
        : path.join(stateRoot, 'stacks', stackKey),
    stateRoot,
    stackKey,
  };
}

async function rootOwner(stateRoot: string, envRealPath: string): Promise<string> {
  const recorded = (await readIfExists(path.join(stateRoot, ROOT_OWNER_FILE)))?.trim();
  if (recorded) return recorded;
  return (await legacyOwner(stateRoot)) ?? envRealPath;
}

/**
 * Records that the stack using the state root owns it (`<root>/stack-env`), before it writes state
 * there that the root's history does not name it by (a change request) or after its first rotation.
 * Does nothing for a stack in its own `stacks/<key>/` folder or a root already recorded as its own.
 * Throws ERR_LOCKED when another stack claimed the root since this config was loaded.
 *
 * @example
 * await claimStackState(loaded); // then write into loaded.stateDir
 */
export async function claimStackState(loaded: {
  readonly stateDir: string;
  readonly stateRoot: string;
  readonly envRealPath: string;
}): Promise<void> {
  if (loaded.stateDir !== loaded.stateRoot) return;
  const file = path.join(loaded.stateRoot, ROOT_OWNER_FILE);
  const mine = loaded.envRealPath;
  let owner = (await readIfExists(file))?.trim();
  if (!owner) {
    await ensurePrivateDir(loaded.stateRoot);
    if (await writeFileExclusive(file, `${mine}\n`)) return;
    owner = (await readIfExists(file))?.trim();
  }
  if (owner !== mine) {
    throw new RekeyError(
      'ERR_LOCKED',
      `the state directory ${loaded.stateRoot} was just taken by the stack of ${owner}; nothing was written`,
      { hint: 'Run the command again: this stack now keeps its state in its own folder under it.' },
    );
  }
}

/**
 * A pending journal in the root whose owner's env file is gone (moved or renamed mid-rotation): every
 * stack is shown the root, so the journal blocks its rotations and `recover` judges it (it finishes
 * it only when this env file holds the journal's old or new content).
 */
async function orphanedJournal(stateRoot: string, owner: string): Promise<boolean> {
  // A store stack's identity (`vault-kv:…`) names no file: its store cannot go missing here.
  if (!path.isAbsolute(owner)) return false;
  if (!(await fs.stat(path.join(stateRoot, 'journal.json')).catch(() => undefined))) return false;
  return (await fs.stat(owner).catch((e: NodeJS.ErrnoException) => e.code)) === 'ENOENT';
}

/**
 * The env file a state root written by an earlier version belongs to: the pending journal's, else
 * the newest archived rotation's. Undefined when neither names one.
 */
async function legacyOwner(stateRoot: string): Promise<string | undefined> {
  const pending = envFileIn(await readIfExists(path.join(stateRoot, 'journal.json')));
  if (pending) return pending;
  const historyDir = path.join(stateRoot, 'history');
  const names = await fs.readdir(historyDir).catch(() => [] as string[]);
  let newest: { at: string; envFile: string } | undefined;
  for (const name of names.filter((n) => n.endsWith('.json'))) {
    const text = await readIfExists(path.join(historyDir, name)).catch(() => undefined);
    const envFile = envFileIn(text);
    const at = createdAtIn(text) ?? '';
    if (envFile && (newest === undefined || at > newest.at)) newest = { at, envFile };
  }
  return newest?.envFile;
}

function envFileIn(text: string | undefined): string | undefined {
  const j = parsed(text);
  return j === undefined ? undefined : journalEnvFile(j);
}

/**
 * The env file a journal (pending or archived) rotated, by real path: at its top level in version 1,
 * in its env file store record (`store.envFile`) from version 2. Undefined when it names none (a
 * journal of another store).
 *
 * @example
 * journalEnvFile({ version: 2, store: { type: 'env-file', envFile: '/srv/app/.env' } }); // '/srv/app/.env'
 */
export function journalEnvFile(journal: unknown): string | undefined {
  if (journal === null || typeof journal !== 'object') return undefined;
  const j = journal as { envFile?: unknown; store?: { type?: unknown; envFile?: unknown } | null };
  const v = j.store != null && typeof j.store === 'object' ? envFileOfRecord(j.store) : j.envFile;
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function envFileOfRecord(record: { type?: unknown; envFile?: unknown }): unknown {
  return record.type === 'env-file' ? record.envFile : undefined;
}

/**
 * The backup of the old values a journal names: `backupFile` from version 2, `backupPath` in version 1.
 *
 * @example
 * journalBackupFile({ backupPath: '/srv/app/.env.backup-20261125T100000Z' }); // that path
 */
export function journalBackupFile(journal: unknown): string | undefined {
  if (journal === null || typeof journal !== 'object') return undefined;
  const j = journal as { backupFile?: unknown; backupPath?: unknown };
  const v = j.backupFile ?? j.backupPath;
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function createdAtIn(text: string | undefined): string | undefined {
  const v = parsed(text)?.createdAt;
  return typeof v === 'string' ? v : undefined;
}

function parsed(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  try {
    // Only names and dates are wanted: the targets' values are dropped as they are parsed.
    const reviver = (k: string, val: unknown) => (k === 'old' || k === 'new' ? undefined : val);
    // A pending journal since version 3 is a log of records (src/lib/record-log.ts): their fold.
    const v = text.startsWith('{')
      ? (JSON.parse(text, reviver) as unknown)
      : foldRecords(parseLog(Buffer.from(text), reviver).records);
    return v !== null && typeof v === 'object' && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
