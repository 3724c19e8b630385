/**
 * Secrets in git (RK2xx): any file under the config's folder, in any commit of any ref, that holds a
 * current secret value (critical: the live credential is in the history), and the env file or its
 * backups committed at some time (medium: old values are). Blobs are read in-process through
 * `git cat-file --batch` (object ids on stdin); values are searched in memory, never put in argv
 * and never printed. A blob over 1 MiB is skipped (no env file is that large).
 */
import path from 'node:path';
import { type GitResult, git } from '../../lib/git.js';
import type { DoctorContext } from '../context.js';
import type { Check, Finding, Rule } from '../finding.js';

const RULES = {
  current: {
    id: 'RK201',
    name: 'current-secret-in-git-history',
    severity: 'critical',
    summary: 'a current secret value is in a committed file',
  },
  committed: {
    id: 'RK202',
    name: 'env-file-in-git-history',
    severity: 'medium',
    summary: 'the env file (or a backup of it) was committed at some time',
  },
} as const satisfies Record<string, Rule>;

const MAX_BLOB = 1024 * 1024;
/** Shorter values would match by chance (and are findings of RK104 anyway). */
const MIN_VALUE = 8;
const SCAN_TIMEOUT_MS = 120_000;

class GitUnavailable extends Error {}

async function run(cwd: string, args: string[], input?: string): Promise<GitResult> {
  const r = await git(cwd, args, { timeoutMs: SCAN_TIMEOUT_MS, ...(input !== undefined ? { input } : {}) });
  if (r === undefined) throw new GitUnavailable('git is not installed');
  if (r.code !== 0)
    throw new Error(`git ${args[0]} failed: ${r.stderr.trim().split('\n')[0] ?? `exit ${r.code}`}`);
  return r;
}

/** `git cat-file --batch` output: the blobs (id → bytes) of the ids asked for, in order. */
function parseBatch(bytes: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let at = 0;
  while (at < bytes.length) {
    const nl = bytes.indexOf(0x0a, at);
    if (nl < 0) break;
    const [oid = '', type = '', size = ''] = bytes.subarray(at, nl).toString('utf8').split(' ');
    at = nl + 1;
    if (type === 'missing' || size === '') continue;
    const n = Number(size);
    out.set(oid, bytes.subarray(at, at + n));
    at += n + 1;
  }
  return out;
}

export const gitHistoryCheck: Check<DoctorContext> = {
  name: 'git history',
  rules: Object.values(RULES),
  async run(ctx) {
    const dir = ctx.loaded.dir;
    const inside = await git(dir, ['rev-parse', '--show-toplevel']);
    if (inside === undefined) throw new GitUnavailable('git is not installed');
    if (inside.code !== 0) return []; // not a repository: nothing was ever committed here
    const top = inside.stdout.trim();
    const scope = path.relative(top, dir) || '.';

    // Every blob that ever sat under the config's folder, with one path it had.
    const listed = await run(top, ['rev-list', '--all', '--objects', '--', scope]);
    const paths = new Map<string, string>();
    for (const line of listed.stdout.split('\n')) {
      const sp = line.indexOf(' ');
      if (sp > 0 && !paths.has(line.slice(0, sp))) paths.set(line.slice(0, sp), line.slice(sp + 1));
    }
    if (paths.size === 0) return [];
    const sizes = await run(
      top,
      ['cat-file', '--batch-check=%(objectname) %(objecttype) %(objectsize)'],
      [...paths.keys()].join('\n'),
    );
    const blobs = sizes.stdout
      .split('\n')
      .map((l) => l.split(' '))
      .filter(([, type, size]) => type === 'blob' && Number(size) <= MAX_BLOB)
      .map(([oid]) => oid ?? '');
    if (blobs.length === 0) return [];
    const contents = parseBatch((await run(top, ['cat-file', '--batch'], blobs.join('\n'))).bytes);

    const secretKeys = [...new Set(ctx.secrets.flatMap((s) => s.secretKeys))];
    const needles = secretKeys
      .map((key) => ({ key, value: ctx.values.get(key) ?? '' }))
      .filter((n) => n.value.length >= MIN_VALUE)
      .map((n) => ({ key: n.key, bytes: Buffer.from(n.value, 'utf8') }));
    const envName = ctx.loaded.envFile !== undefined ? path.relative(top, ctx.loaded.envRealPath) : undefined;

    const out: Finding[] = [];
    const hits = new Map<string, { keys: Set<string>; oid: string }>(); // path → keys found
    const committedEnv = new Set<string>();
    for (const [oid, bytes] of contents) {
      const file = paths.get(oid) ?? '';
      for (const n of needles) {
        if (!bytes.includes(n.bytes)) continue;
        const hit = hits.get(file) ?? { keys: new Set<string>(), oid };
        hit.keys.add(n.key);
        hits.set(file, hit);
      }
      if (envName !== undefined && (file === envName || file.startsWith(`${envName}.backup-`)))
        committedEnv.add(file);
    }
    for (const [file, hit] of hits) {
      const commit = await firstCommit(top, hit.oid);
      const keys = [...hit.keys].sort();
      out.push({
        rule: RULES.current.id,
        severity: RULES.current.severity,
        message: `the current value of ${keys.join(', ')} is in ${file}${commit ? ` (commit ${commit})` : ''}`,
        why: 'Anyone with a clone, a fork or a CI cache of the repository has the live credential.',
        fix: `Rotate now (\`rekey rotate --trigger compromise --only ${keys.join(',')}\`), then remove the file from history (git filter-repo) if the repository may be shared.`,
        keys,
        location: { file: path.join(top, file) },
      });
    }
    for (const file of [...committedEnv].sort()) {
      if (hits.has(file)) continue;
      const commit = await firstCommit(top, [...contents.keys()].find((o) => paths.get(o) === file) ?? '');
      out.push({
        rule: RULES.committed.id,
        severity: RULES.committed.severity,
        message: `${file} was committed${commit ? ` (commit ${commit})` : ''}; its values are no longer the current ones`,
        why: 'Old credentials stay in every clone; any still accepted somewhere (a forgotten replica, a grace slot) is exposed.',
        fix: 'Remove it from history (git filter-repo) and keep it ignored; rotate any value that might still be accepted.',
        location: { file: path.join(top, file) },
      });
    }
    return out;
  },
};

/** The abbreviated id of the oldest commit that added the blob (object ids only in argv). */
async function firstCommit(top: string, oid: string): Promise<string | undefined> {
  if (oid === '') return undefined;
  const r = await git(top, ['log', '--all', '--reverse', '--format=%h', `--find-object=${oid}`]);
  return r?.code === 0 ? r.stdout.split('\n')[0]?.trim() || undefined : undefined;
}

export { GitUnavailable };
