/**
 * Which records of an audit log belong to a stack. Configs that share a folder share the log (one
 * hash chain); each record carries the stack key of its env file. A record written before stacks
 * were told apart has none: it belongs to the stack whose archived rotation (in the shared state
 * root's history) has its rotation id, else to the stack that owns the state root (the one stack of
 * the install that wrote it).
 */
import type { StackConfig } from '../../config/load.js';
import { journalEnvFile } from '../../config/stack-state.js';
import { JournalStore } from '../../engine/journal.js';
import type { AuditRecord } from './types.js';

/**
 * The records of `records` that belong to the loaded stack, in their order.
 *
 * @example
 * const mine = await stackRecords(loaded, await readAuditLog(auditFileOf(loaded)));
 */
export async function stackRecords(
  loaded: StackConfig,
  records: readonly AuditRecord[],
): Promise<AuditRecord[]> {
  const ownsRoot = loaded.stateDir === loaded.stateRoot;
  let legacy: Map<string, string> | undefined;
  const out: AuditRecord[] = [];
  for (const r of records) {
    if (typeof r.stackKey === 'string') {
      if (r.stackKey === loaded.stackKey) out.push(r);
      continue;
    }
    legacy ??= await legacyRotations(loaded.stateRoot);
    const id = typeof r.rotationId === 'string' ? r.rotationId : undefined;
    const envFile = id === undefined ? undefined : legacy.get(id);
    if (envFile !== undefined ? envFile === loaded.envRealPath : ownsRoot) out.push(r);
  }
  return out;
}

/** Rotation id → env file, of the rotations archived in the shared state root (older versions wrote there). */
async function legacyRotations(stateRoot: string): Promise<Map<string, string>> {
  const map = new Map<string, string>();
  const history = await new JournalStore(stateRoot).history().catch(() => []);
  for (const h of history as unknown[]) {
    if (h === null || typeof h !== 'object') continue;
    const { id } = h as { id?: unknown };
    const envFile = journalEnvFile(h);
    if (typeof id === 'string' && envFile !== undefined) map.set(id, envFile);
  }
  return map;
}
