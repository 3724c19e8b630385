/**
 * A Redis revert that reaches Redis but cannot be saved (the built CLI against a real throwaway Redis):
 * the rotation stages (the new password's hash is saved to redis.conf / the aclfile), then the deploy
 * replaces that file by a directory (what a read-only or broken mount looks like to Redis, even for
 * root, where chmod would not stop it) and fails. The rollback puts the old password back in Redis
 * but cannot save it, so the file still holds the discarded new password, which a Redis restart would
 * bring back. `rekey recover` must keep exiting 4, saying what to do, until the save succeeds; then a
 * restart must not bring the discarded password back.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { JournalStore } from '../../../src/engine/journal.js';
import { aclHash } from '../../../src/targets/redis/acl.js';
import { startCli } from '../../engine/stack.js';
import { record } from '../../helpers/resilience.js';
import { useRedis } from '../../helpers/services.js';
import { tempDir } from '../../helpers/tmp.js';
import { aclPasswords, canary, login, writeRedisStack } from './helpers.js';

describe.each(['config', 'aclfile'] as const)('revert not saved (%s mode)', (mode) => {
  const old = canary('old');
  const redis = useRedis({ password: old, mode });

  it('recover exits 4 while the save fails, saves once it can; a restart keeps the new password out', async () => {
    const dir = await tempDir('rekey-redis-unsaved-');
    const file = (mode === 'aclfile' ? redis().aclFile : redis().configFile) ?? '';
    const aside = `${file}.aside`;
    // The deploy breaks the file Redis saves to (moved aside, a directory in its place) and fails.
    await fs.writeFile(
      path.join(dir, 'deploy.sh'),
      `#!/bin/sh\nmv "${file}" "${aside}" && mkdir "${file}"\nexit 1\n`,
      { mode: 0o755 },
    );
    await writeRedisStack(dir, {
      port: redis().port,
      env: [`REDIS_PASSWORD=${old}`],
      more: ['deploy: { command: sh deploy.sh, rollback: "true", timeout: 20s }'],
    });
    const run = (args: string[]) =>
      startCli([...args, '--yes'], dir, { ...process.env, NO_COLOR: '1', REKEY_STACK_TMPDIR: '' }).done;
    const journal = async () => (await new JournalStore(path.join(dir, '.rekey')).read())!;

    const rotated = await run(['rotate']);
    expect(rotated.code, rotated.stderr).toBe(4);
    // The summary says what Redis holds (it said "UNKNOWN: may hold the new value" before).
    expect(rotated.stdout + rotated.stderr).toContain(
      'REDIS_PASSWORD: old value live (Redis accepts only it)',
    );
    expect(rotated.stdout + rotated.stderr).not.toContain('UNKNOWN');
    const next = (await journal()).targets[0]?.new.REDIS_PASSWORD ?? '';
    expect(next).not.toBe('');
    // Redis itself is back on the old password only; its saved file still holds the new one.
    expect(await login(redis(), old)).toBe('PONG');
    expect(await login(redis(), next)).toBe('WRONGPASS');
    expect(await fs.readFile(aside, 'utf8')).toContain(aclHash(next));
    expect((await journal()).targets[0]?.facts).toEqual({ service: 'old', disk: 'new' });

    // The file is still unwritable: recover must not call this done.
    const stuck = await run(['recover']);
    expect(stuck.code, stuck.stderr).toBe(4);
    expect(stuck.stderr).toContain(`make ${file} writable for Redis, then run \`rekey recover\``);
    expect(stuck.stderr).not.toContain(next);
    expect(stuck.stderr).not.toContain(old);

    // Someone fixes the mount: the file is back, still holding the discarded password.
    await fs.rmdir(file);
    await fs.rename(aside, file);
    const recovered = await run(['recover']);
    const saved = await fs.readFile(file, 'utf8');
    await redis().restart();
    const afterRestart = { old: await login(redis(), old), next: await login(redis(), next) };
    record({
      kind: 'failure',
      suite: 'redis target (real Redis, built CLI)',
      point: 'revert:REDIS_PASSWORD (save)',
      cause: `${mode === 'aclfile' ? 'aclfile' : 'redis.conf'} unwritable after stage: revert not saved, recover exits 4 until it is writable`,
      exit: stuck.code,
      rolledBack:
        stuck.code === 4 &&
        recovered.code === 0 &&
        !saved.includes(aclHash(next)) &&
        afterRestart.old === 'PONG' &&
        afterRestart.next === 'WRONGPASS',
    });
    expect(recovered.code, recovered.stderr).toBe(0);
    expect(saved).not.toContain(aclHash(next));
    expect(saved).toContain(aclHash(old));
    expect(afterRestart).toEqual({ old: 'PONG', next: 'WRONGPASS' });
    expect(await aclPasswords(redis(), old)).toEqual([aclHash(old)]);
    expect(await fs.readFile(path.join(dir, '.env'), 'utf8')).toBe(`REDIS_PASSWORD=${old}\n`);
    const again = await run(['recover']);
    expect(again.code, again.stderr).toBe(0);
  });
});
