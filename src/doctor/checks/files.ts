/**
 * File safety (RK3xx): the env file readable by others or owned by another user, its folder writable
 * by others, backups of it that git would not ignore, plaintext backups the backup policy should have
 * removed. Reads modes, owners and names; never a file's contents.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { listBackups } from '../../envfile/index.js';
import { git } from '../../lib/git.js';
import type { DoctorContext } from '../context.js';
import type { Check, Finding, Rule } from '../finding.js';

const RULES = {
  mode: {
    id: 'RK301',
    name: 'env-file-mode',
    severity: 'medium',
    summary: 'the env file is readable or writable by group or others',
  },
  owner: {
    id: 'RK302',
    name: 'env-file-owner',
    severity: 'medium',
    summary: 'the env file belongs to another user than the one running rekey',
  },
  folder: {
    id: 'RK303',
    name: 'env-folder-writable',
    severity: 'medium',
    summary: "the env file's folder is writable by group or others",
  },
  backupsIgnored: {
    id: 'RK304',
    name: 'backups-not-ignored',
    severity: 'medium',
    summary: "the env file's backups are in a git work tree and not ignored",
  },
  backupsKept: {
    id: 'RK305',
    name: 'plaintext-backups-kept',
    severity: 'medium',
    summary: 'plaintext backups left although backups.deleteLocal asks for encrypted archives only',
  },
} as const satisfies Record<string, Rule>;

const octal = (mode: number) => `0${(mode & 0o777).toString(8)}`;

export const filesCheck: Check<DoctorContext> = {
  name: 'file safety',
  rules: Object.values(RULES),
  async run(ctx) {
    const envFile = ctx.loaded.envFile;
    if (envFile === undefined) return []; // a store stack keeps no values on disk
    const out: Finding[] = [];
    const real = ctx.loaded.envRealPath;
    const stat = await fs.stat(real);
    if ((stat.mode & 0o077) !== 0) {
      out.push({
        rule: RULES.mode.id,
        severity: RULES.mode.severity,
        message: `${envFile} has mode ${octal(stat.mode)}`,
        why: 'Every local user (and every process running as them) can read the secrets it holds.',
        fix: `chmod 600 ${real}`,
        location: { file: envFile },
      });
    }
    const uid = process.getuid?.();
    if (uid !== undefined && stat.uid !== uid) {
      out.push({
        rule: RULES.owner.id,
        severity: RULES.owner.severity,
        message: `${envFile} belongs to uid ${stat.uid}; rekey runs as uid ${uid}`,
        why: 'Its owner can change the secrets behind rekey’s back, and rekey’s writes keep that owner.',
        fix: `Run rekey as the file's owner, or \`chown ${uid} ${real}\` if rekey's user should own it.`,
        location: { file: envFile },
      });
    }
    const dir = path.dirname(real);
    const dstat = await fs.stat(dir);
    if ((dstat.mode & 0o022) !== 0 && (dstat.mode & 0o1000) === 0) {
      out.push({
        rule: RULES.folder.id,
        severity: RULES.folder.severity,
        message: `${dir} has mode ${octal(dstat.mode)} (writable by group or others)`,
        why: 'Anyone who can write the folder can replace the env file (rekey refuses to rotate there).',
        fix: `chmod go-w ${dir}`,
        location: { file: envFile },
      });
    }

    const backups = await listBackups(real);
    if (backups.length > 0) {
      const ignored = await git(dir, ['check-ignore', '--no-index', '--stdin', '-z'], {
        input: backups.map((b) => `${path.basename(b)}\0`).join(''),
      });
      // Exit 128: not a work tree (nothing to ignore); undefined: no git.
      if (ignored !== undefined && (ignored.code === 0 || ignored.code === 1)) {
        const listed = new Set(ignored.stdout.split('\0').filter(Boolean));
        const open = backups.filter((b) => !listed.has(path.basename(b)));
        if (open.length > 0) {
          out.push({
            rule: RULES.backupsIgnored.id,
            severity: RULES.backupsIgnored.severity,
            message: `${open.length} backup(s) of ${envFile} are not ignored by git (e.g. ${path.basename(open[0] ?? '')})`,
            why: 'They hold every old secret: one `git add .` commits them.',
            fix: `Add \`${path.basename(real)}.backup-*\` to .gitignore.`,
            location: { file: envFile },
          });
        }
      }
      const policy = ctx.loaded.config.backups;
      if ((policy?.encryptTo?.length ?? 0) > 0 && policy?.deleteLocal) {
        out.push({
          rule: RULES.backupsKept.id,
          severity: RULES.backupsKept.severity,
          message: `${backups.length} plaintext backup(s) of ${envFile} left beside it (e.g. ${path.basename(backups[0] ?? '')}); backups.deleteLocal asks for none`,
          why: 'Plaintext backups keep old credentials readable on disk; the policy meant them archived (encrypted) and removed.',
          fix: 'Find why archiving failed (`rekey audit show`), then archive or securely delete them (`shred -u FILE`).',
          location: { file: envFile },
        });
      }
    }
    return out;
  },
};
