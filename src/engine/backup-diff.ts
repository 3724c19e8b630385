/**
 * Which targets a backup would change: those with any of their keys (`Target.keys`, every key the
 * target writes: the value, its grace slot, the role name of alternating roles) holding another value
 * in the backup than in the env file now. What `rekey rollback` rotates back.
 */

/** The part of a target the diff reads. */
export interface KeyedTarget {
  readonly key: string;
  readonly keys: readonly string[];
}

/**
 * @example
 * changedByBackup([{ key: 'PG_PASSWORD', keys: ['PG_USER', 'PG_PASSWORD'] }],
 *   new Map([['PG_USER', 'app_blue'], ['PG_PASSWORD', 'x']]), new Map([['PG_USER', 'app_green'], ['PG_PASSWORD', 'x']]));
 * // ['PG_PASSWORD']
 */
export function changedByBackup(
  targets: readonly KeyedTarget[],
  backup: ReadonlyMap<string, string>,
  current: ReadonlyMap<string, string>,
): string[] {
  return targets.filter((t) => t.keys.some((k) => backup.get(k) !== current.get(k))).map((t) => t.key);
}
