/**
 * `rekey migrate --to vault-kv|aws-ssm|aws-secretsmanager`: copies the env file's managed values
 * (the keys the configured secrets own) into a managed store, reads them back and compares hashes,
 * writes the `store:` section into rekey.yaml (comments and layout kept, the old file backed up) and
 * prints what the app must change to read from the store. Never prints a value.
 *
 * Crash-safe by being idempotent: a store that already holds the same values is not a conflict, so a
 * run killed between the store write and the rekey.yaml write converges when run again. The env
 * file's copies stay unless `--remove-from-env`, allowed only once the store holds the same values.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Document, isMap, parseDocument } from 'yaml';
import { type LoadedConfig, loadConfig } from '../config/load.js';
import { type StoreConfig, storeSchema } from '../config/store.js';
import { JournalStore } from '../engine/journal.js';
import { envValues, readEnvFile, removeKeys, writeBackup, writeEnvFile } from '../envfile/index.js';
import { appendAudit, auditPaths, fingerprintSecrets } from '../governance/audit/index.js';
import { operatorIdentity } from '../governance/identity.js';
import { RekeyError } from '../lib/errors.js';
import { faultPoint } from '../lib/faults.js';
import { writeFileAtomic } from '../lib/fsx.js';
import { sha256 } from '../lib/hash.js';
import { acquireOrTakeOver } from '../lib/lock.js';
import { log } from '../lib/log.js';
import { safeMessage } from '../lib/redact.js';
import { compactUtc } from '../lib/time.js';
import type { StoreSeeder } from '../stores/seed.js';
import { ownedKeys } from '../targets/registry.js';
import { confirm } from './confirm.js';
import type { GlobalOptions } from './context.js';
import { printJson, printLines } from './output.js';

export interface MigrateOptions {
  to?: string;
  address?: string;
  mount?: string;
  path?: string;
  namespace?: string;
  tokenFile?: string;
  prefix?: string;
  kmsKeyId?: string;
  secretId?: string;
  region?: string;
  endpoint?: string;
  name?: string;
  context?: string;
  dryRun?: boolean;
  force?: boolean;
  removeFromEnv?: boolean;
  yes?: boolean;
  json?: boolean;
}

/** Each store's options: the flag, and the field of its `store:` section. */
const FIELDS = {
  'vault-kv': {
    address: 'address',
    mount: 'mount',
    path: 'path',
    namespace: 'namespace',
    tokenFile: 'tokenFile',
  },
  'aws-ssm': { prefix: 'prefix', region: 'region', endpoint: 'endpoint', kmsKeyId: 'kmsKeyId' },
  'aws-secretsmanager': { secretId: 'secretId', region: 'region', endpoint: 'endpoint' },
  kubernetes: { namespace: 'namespace', name: 'name', context: 'context' },
} as const;
type StoreType = keyof typeof FIELDS;
const ALL_FIELDS = [
  'address',
  'mount',
  'path',
  'namespace',
  'tokenFile',
  'prefix',
  'kmsKeyId',
  'secretId',
  'region',
  'endpoint',
  'name',
  'context',
] as const;

const flag = (field: string) => `--${field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/**
 * The `store:` section the options describe, validated with the schema; paths as rekey.yaml holds
 * them (relative to its folder). Throws ERR_USAGE naming the option.
 *
 * @example
 * storeFromOptions({ to: 'aws-ssm', prefix: '/bi/prod/', region: 'eu-west-1' }, '/srv/app');
 * // { type: 'aws-ssm', prefix: '/bi/prod/', region: 'eu-west-1' }
 */
export function storeFromOptions(opts: MigrateOptions, configDir: string): StoreConfig {
  const type = opts.to;
  if (type === undefined || !(type in FIELDS))
    throw new RekeyError('ERR_USAGE', `--to: unknown store ${JSON.stringify(type ?? '')}`, {
      hint: `Choose one of ${Object.keys(FIELDS).join(', ')}.`,
    });
  const fields = FIELDS[type as StoreType] as Readonly<Record<string, string>>;
  const stray = ALL_FIELDS.filter((f) => opts[f] !== undefined && !(f in fields));
  if (stray.length > 0)
    throw new RekeyError('ERR_USAGE', `${stray.map(flag).join(', ')}: not an option of --to ${type}`, {
      hint: `The options of --to ${type} are ${Object.keys(fields).map(flag).join(', ')}.`,
    });
  const raw: Record<string, unknown> = { type };
  for (const f of Object.keys(fields)) {
    const v = opts[f as keyof MigrateOptions];
    if (v === undefined) continue;
    raw[f] = f === 'tokenFile' ? path.relative(configDir, path.resolve(String(v))) || '.' : v;
  }
  const parsed = storeSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = String(issue.path[0] ?? 'type');
    const missing = raw[field] === undefined;
    throw new RekeyError(
      'ERR_USAGE',
      missing ? `${flag(field)} is required with --to ${type}` : `${flag(field)}: ${issue.message}`,
      { hint: `Give ${flag(field)} (\`rekey migrate --help\` lists the options of each store).` },
    );
  }
  // What rekey.yaml gets: the fields given (the schema's defaults stay implicit).
  return Object.fromEntries(Object.keys(raw).map((k) => [k, raw[k]])) as StoreConfig;
}

/** The store's config with paths absolute, for connecting from this process. */
function forConnecting(store: StoreConfig, configDir: string): StoreConfig {
  const parsed = storeSchema.parse(store);
  if (parsed.type === 'vault-kv' && parsed.tokenFile !== undefined)
    return { ...parsed, tokenFile: path.resolve(configDir, parsed.tokenFile) };
  return parsed;
}

async function seederFor(store: StoreConfig): Promise<StoreSeeder> {
  switch (store.type) {
    case 'vault-kv':
      return (await import('../stores/vault-kv/seed.js')).vaultKvSeeder(store);
    case 'aws-ssm':
      return (await import('../stores/aws-ssm/seed.js')).awsSsmSeeder(store);
    case 'aws-secretsmanager':
      return (await import('../stores/aws-secretsmanager/seed.js')).awsSecretsManagerSeeder(store);
    case 'kubernetes':
      return (await import('../stores/kubernetes/seed.js')).kubernetesSeeder(store);
  }
}

/**
 * What the app must change to read from the store, key names only. The deploy command then makes it
 * read them (restart, agent re-render).
 */
export function consumerHints(store: StoreConfig, keys: readonly string[]): string[] {
  switch (store.type) {
    case 'vault-kv': {
      const mount = store.mount ?? 'secret';
      return [
        'Vault Agent template (renders the env file the app reads; `vault agent` re-renders it):',
        `  {{ with secret "${mount}/data/${store.path}" }}`,
        ...keys.map((k) => `  ${k}={{ .Data.data.${k} }}`),
        '  {{ end }}',
      ];
    }
    case 'aws-ssm':
      return [
        'At deploy, read the parameters (names under the prefix are the env keys):',
        `  aws ssm get-parameters-by-path --path ${store.prefix} --with-decryption${store.region ? ` --region ${store.region}` : ''} --query 'Parameters[].[Name,Value]' --output text`,
        `  keys: ${keys.join(', ')}`,
      ];
    case 'aws-secretsmanager':
      return [
        'At deploy, read the secret (a JSON object with a field per key):',
        `  aws secretsmanager get-secret-value --secret-id ${store.secretId}${store.region ? ` --region ${store.region}` : ''} --query SecretString --output text`,
        `  fields: ${keys.join(', ')}`,
      ];
    case 'kubernetes':
      return [
        'In the workload, read the Secret (a data key per env key); the deploy restarts it:',
        `  envFrom: [{ secretRef: { name: ${store.name} } }]   # namespace ${store.namespace}`,
        `  keys: ${keys.join(', ')}`,
      ];
  }
}

/** The env keys the configured secrets own (`ownedKeys(...).written`, i.e. the targets' `keys`), once each. */
function managedKeys(loaded: LoadedConfig): string[] {
  return [...new Set(loaded.config.secrets.flatMap((s) => ownedKeys(s).written))];
}

/** Whether rekey.yaml's raw `store:` is the section these options describe (`${NAME}` in it: not the same). */
function sameStore(raw: unknown, store: StoreConfig): boolean {
  const a = storeSchema.safeParse(raw);
  return a.success && JSON.stringify(a.data) === JSON.stringify(storeSchema.parse(store));
}

/**
 * rekey.yaml with the store section appended: every byte of the file as it was, then the section
 * (made with the yaml Document API); the result is parsed again and must read back as `store`.
 */
export function withStore(text: string, store: StoreConfig): string {
  const section = new Document({ store });
  const sep = text === '' || text.endsWith('\n') ? '' : '\n';
  const out = `${text}${sep}\n# Where the app reads its managed secrets (written by \`rekey migrate\`).\n${section.toString()}`;
  const back = parseDocument(out, { uniqueKeys: true });
  if (
    back.errors.length > 0 ||
    !isMap(back.contents) ||
    JSON.stringify((back.toJS() as { store?: unknown }).store) !== JSON.stringify(store)
  )
    throw new RekeyError(
      'ERR_CONFIG_INVALID',
      'rekey.yaml: the store: section cannot be appended (the file does not end as a plain mapping)',
      { hint: 'Add the store: section by hand as `rekey migrate --dry-run --json` shows it.' },
    );
  return out;
}

/**
 * The env file migrate copies from: the stack's env file, or, once rekey.yaml names the store (a rerun
 * after a crash, `--remove-from-env` after the app switched), the `envFile:` it still names.
 */
function envFileOf(loaded: LoadedConfig): string {
  if (loaded.envFile !== undefined) return loaded.envFile;
  if (loaded.config.envFile !== undefined) return path.resolve(loaded.dir, loaded.config.envFile);
  throw new RekeyError('ERR_USAGE', `${path.basename(loaded.path)} names no envFile: to migrate from`, {
    hint: 'Add `envFile:` (the env file that still holds the values) to rekey.yaml, or migrate nothing.',
  });
}

export async function migrateCommand(globals: GlobalOptions, opts: MigrateOptions): Promise<void> {
  const loaded = await loadConfig(globals.config);
  const store = storeFromOptions(opts, loaded.dir);
  const yamlText = await fs.readFile(loaded.path, 'utf8');
  const configured = (parseDocument(yamlText).toJS() as { store?: unknown }).store;
  if (configured !== undefined && !sameStore(configured, store))
    throw new RekeyError(
      'ERR_USAGE',
      `${path.basename(loaded.path)} already names another store (${String((configured as { type?: unknown }).type)})`,
      { hint: 'Migrate from the env file once; to move between stores, edit `store:` by hand.' },
    );

  const envFile = envFileOf(loaded);
  const env = envValues((loaded.env ?? (await readEnvFile(envFile))).doc);
  const managed = managedKeys(loaded);
  const keys = managed.filter((k) => env.has(k));
  const absent = managed.filter((k) => !env.has(k));
  if (keys.length === 0)
    throw new RekeyError('ERR_USAGE', 'the env file holds none of the managed keys: nothing to migrate', {
      hint: 'Check `envFile` and `secrets` in rekey.yaml.',
    });

  const seeder = await seederFor(forConnecting(store, loaded.dir));
  await seeder.check();
  // A lock left by a dead run (of migrate, or of a rotation: its journal then stops us below) is taken over.
  const lock = opts.dryRun ? undefined : (await acquireOrTakeOver(loaded.stateDir, 'migrate')).lock;
  // A Kubernetes Secret: the stack's Lease too, as a rotation takes it (a pod rotating the Secret
  // with its own disk is seen only there): ERR_LOCKED naming the holder, nothing changed.
  const lease =
    opts.dryRun || store.type !== 'kubernetes'
      ? undefined
      : await (await import('./stack-lock.js')).leaseLockFor(store);
  try {
    await lease?.acquire();
    if (!opts.dryRun && (await new JournalStore(loaded.stateDir).read()) !== undefined)
      throw new RekeyError(
        'ERR_RECOVERY_PENDING',
        'an interrupted rotation is pending; nothing was migrated',
        {
          hint: 'Run `rekey recover` first, then migrate.',
        },
      );
    // Re-read under the lock: what is copied is what the env file holds now.
    const envNow = opts.dryRun ? env : envValues((await readEnvFile(envFile)).doc);
    const gone = keys.filter((k) => !envNow.has(k));
    if (gone.length > 0)
      throw new RekeyError(
        'ERR_ENVFILE_CHANGED',
        `the env file changed meanwhile (${gone.join(', ')} gone)`,
        {
          hint: 'Run `rekey migrate` again.',
        },
      );
    const values = Object.fromEntries(keys.map((k) => [k, envNow.get(k) ?? '']));
    const held = await seeder.read(keys);
    const same = keys.filter((k) => held.get(k) === values[k]);
    const differ = keys.filter((k) => held.has(k) && held.get(k) !== values[k]);
    const fresh = keys.filter((k) => !held.has(k));
    const toWrite = [...differ, ...fresh];
    const yamlDone = configured !== undefined;

    const plan = [
      `migrate ${keys.length} key(s) from ${path.basename(envFile)} to ${seeder.name}`,
      ...(fresh.length ? [`  write: ${fresh.join(', ')}`] : []),
      ...(differ.length ? [`  overwrite (held a different value): ${differ.join(', ')}`] : []),
      ...(same.length ? [`  already there with the same value: ${same.join(', ')}`] : []),
      ...(absent.length ? [`  not in the env file, left out: ${absent.join(', ')}`] : []),
      yamlDone
        ? `  ${path.basename(loaded.path)} already has this store: section`
        : `  add store: (${store.type}) to ${path.basename(loaded.path)}, the old one kept as a backup`,
      ...(opts.removeFromEnv ? [`  remove ${keys.join(', ')} from the env file (backed up first)`] : []),
    ];
    if (!opts.json) printLines(plan);
    if (differ.length > 0 && !opts.force)
      throw new RekeyError(
        'ERR_STORE_CONFLICT',
        `${seeder.name} already holds different values for ${differ.join(', ')}; nothing was changed`,
        {
          hint: "Check who wrote them; `--force` overwrites them with the env file's values (the store keeps its history).",
        },
      );
    if (differ.length > 0 && store.type === 'kubernetes')
      throw new RekeyError(
        'ERR_STORE_CONFLICT',
        `${seeder.name} already holds different values for ${differ.join(', ')}, and a Secret keeps no history: --force would lose them; nothing was changed`,
        {
          hint: `Keep a copy first (\`kubectl -n ${store.namespace} get secret ${store.name} -o yaml\`), remove those keys from the Secret, then migrate again.`,
        },
      );
    if (opts.dryRun) {
      if (opts.json)
        printJson({ ok: true, dryRun: true, store, keys: { write: fresh, overwrite: differ, same, absent } });
      else printLines(['(dry run: nothing changed)']);
      return;
    }
    await confirm(`Migrate ${keys.length} key(s) to ${seeder.name}?`, opts.yes);

    let wrote: string | undefined;
    if (toWrite.length > 0)
      wrote = await seeder.write(Object.fromEntries(toWrite.map((k) => [k, values[k]!])));
    // Read back and compare hashes: the store must hold exactly the env file's values.
    const back = await seeder.read(keys);
    const wrong = keys.filter((k) => sha256(back.get(k) ?? '\0absent') !== sha256(values[k]!));
    if (wrong.length > 0)
      throw new RekeyError(
        'ERR_STORE_REJECTED',
        `${seeder.name} does not hold the env file's values for ${wrong.join(', ')} after the write`,
        {
          hint: 'rekey.yaml and the env file were left unchanged; check the store, then run `rekey migrate` again.',
        },
      );

    await faultPoint('migrate-store', 'end');
    let configBackup: string | undefined;
    if (!yamlDone) {
      const now = new Date();
      const text = await fs.readFile(loaded.path, 'utf8');
      if (text !== yamlText)
        throw new RekeyError('ERR_CONFIG_INVALID', `${path.basename(loaded.path)} changed while rekey ran`, {
          hint: 'The store holds the values now; run `rekey migrate` again to write the store: section.',
        });
      const next = withStore(text, store);
      configBackup = await backupConfig(loaded.path, text, now);
      await writeFileAtomic(loaded.path, next);
    }

    let envBackup: string | undefined;
    if (opts.removeFromEnv) envBackup = await removeFromEnv(loaded, keys, values);

    await appendAudit(auditPaths(loaded), {
      kind: 'migrate',
      operator: await operatorIdentity(loaded.dir),
      secrets: await fingerprintSecrets(loaded, keys, new Map(Object.entries(values))),
      store: seeder.name,
      outcome: 'recorded',
    }).catch((e) => log.warn(`audit record of the migration not written: ${safeMessage(e)}`));

    const hints = consumerHints(store, keys);
    if (opts.json) {
      printJson({
        ok: true,
        store,
        keys: { written: toWrite, same, absent },
        ...(wrote ? { summary: wrote } : {}),
        ...(configBackup ? { configBackup } : {}),
        ...(envBackup ? { envBackup } : {}),
        removedFromEnv: opts.removeFromEnv === true,
        consumer: hints,
      });
    } else {
      printLines([
        wrote ?? `${seeder.name} already held every value`,
        `read back: ${keys.length} value(s) match the env file (hash compare)`,
        configBackup
          ? `${path.basename(loaded.path)}: store: added (backup ${configBackup})`
          : `${path.basename(loaded.path)}: store: already there`,
        ...(envBackup ? [`removed ${keys.length} key(s) from the env file (backup ${envBackup})`] : []),
        '',
        ...hints,
        ...(opts.removeFromEnv
          ? []
          : [
              '',
              'The env file keeps its copies; once the app reads from the store: rekey migrate ... --remove-from-env',
            ]),
      ]);
    }
  } finally {
    await lease?.release();
    await lock?.release();
  }
}

/** `<rekey.yaml>.backup-<UTC>` beside it, same mode, never over an existing file. */
async function backupConfig(file: string, text: string, now: Date): Promise<string> {
  const mode = (await fs.stat(file)).mode & 0o7777;
  const base = `${file}.backup-${compactUtc(now)}`;
  for (let n = 1; n < 1000; n++) {
    const name = n === 1 ? base : `${base}-${n}`;
    try {
      const handle = await fs.open(name, 'wx', mode);
      try {
        await handle.chmod(mode);
        await handle.writeFile(text);
        await handle.sync();
      } finally {
        await handle.close();
      }
      return name;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  throw new RekeyError('ERR_IO', `cannot create a backup of ${file}: too many backups this second`);
}

/**
 * Removes `keys` from the env file, only while it holds `values` (those the store was just checked to
 * hold); the file is backed up first. Returns the backup's path.
 */
async function removeFromEnv(
  loaded: LoadedConfig,
  keys: readonly string[],
  values: Record<string, string>,
): Promise<string> {
  const envFile = envFileOf(loaded);
  const file = await readEnvFile(envFile);
  const now = envValues(file.doc);
  const changed = keys.filter((k) => now.get(k) !== values[k]);
  if (changed.length > 0)
    throw new RekeyError(
      'ERR_ENVFILE_CHANGED',
      `the env file changed meanwhile (${changed.join(', ')}); nothing removed`,
      {
        hint: 'Run `rekey migrate --remove-from-env` again.',
      },
    );
  const backup = await writeBackup(envFile, new Date(), { expected: file.doc.text });
  const text = removeKeys(file.doc, keys);
  await writeEnvFile(envFile, text, {
    ...(loaded.config.envFileMode === undefined
      ? {}
      : { mode: Number.parseInt(loaded.config.envFileMode, 8) }),
    realPath: loaded.envRealPath,
  });
  return backup;
}
