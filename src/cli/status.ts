/**
 * `rekey status`: what it reads and prints, and nothing else, so it starts fast (no engine, targets,
 * deployer, notifications or scheduler: see the cold-start rows of bench/results/startup.md). A
 * Kubernetes Secret stack's Lease (the lock across pods) is read only for such a stack.
 */
import { readStatus } from '../policy/inputs.js';
import { renderStatus } from '../policy/render.js';
import { type GlobalOptions, loadStack } from './context.js';
import { printJson, printLines } from './output.js';

export async function statusCommand(g: GlobalOptions, o: { json?: boolean }): Promise<void> {
  const loaded = await loadStack(g.config);
  const report = await readStatus(loaded);
  // Who holds the Lease, until when (read-only; an unreadable Lease is `unknown`, never a failure).
  const lease = loaded.config.store?.type === 'kubernetes' ? await import('./stack-lock.js') : undefined;
  const lock = lease === undefined ? undefined : await lease.leaseStatus(loaded);
  if (o.json) printJson({ ok: true, ...report, ...(lock === undefined ? {} : { lock }) });
  else
    printLines([
      ...renderStatus(report),
      ...(lock === undefined || !lease ? [] : ['', lease.leaseLine(lock)]),
    ]);
}
