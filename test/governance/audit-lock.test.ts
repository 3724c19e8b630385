/**
 * The audit log's append lock is the project's one lock: an append held up by a live process (a slow
 * disk, a process stopped in a debugger) is waited for and never taken over, however old its lock
 * file; a lock left by a dead process is taken over. (The old lock took over any lock file older
 * than 30 s without asking whether its holder lived: two appends could then share a seq.)
 */
import { once } from 'node:events';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { appendAudit, auditLockDir } from '../../src/governance/audit/append.js';
import { auditPaths } from '../../src/governance/audit/read.js';
import { lockPath } from '../../src/lib/lock.js';
import { useStacks } from '../engine/stack.js';
import { holdLock } from '../helpers/lock-holder.js';

const stack = useStacks();

describe('audit append lock', () => {
  it('waits for a live holder with an hour-old lock file, then takes over once it died', async () => {
    const s = await stack();
    const paths = auditPaths(await loadConfig(path.join(s.dir, 'rekey.yaml')));
    await appendAudit(paths, { kind: 'approval', operator: 'first@example.com', outcome: 'recorded' });
    const lockDir = auditLockDir(paths.stateDir);
    const holder = await holdLock(lockDir, 'audit append');
    try {
      const old = new Date(Date.now() - 3_600_000);
      await fs.utimes(lockPath(lockDir), old, old);
      let done = false;
      const append = appendAudit(paths, {
        kind: 'approval',
        operator: 'second@example.com',
        outcome: 'recorded',
      }).then(() => {
        done = true;
      });
      await new Promise((r) => setTimeout(r, 1500));
      expect(done).toBe(false); // the live holder's lock is not taken over
      holder.kill('SIGKILL');
      await once(holder, 'exit');
      await append; // the dead holder's lock is taken over
    } finally {
      holder.kill('SIGKILL');
    }
    const lines = (await fs.readFile(paths.file, 'utf8')).trim().split('\n');
    expect(lines.map((l) => JSON.parse(l).seq)).toEqual([1, 2]);
  }, 60_000);
});
