/**
 * Where a store stands against a rotation, from the values it holds now: every key at its new value
 * (`new`), every key at its old value (`old`, an absent key counting as old when it had no old
 * value), each key at one or the other (`partial`, only stores written key by key), or anything
 * else (`other`: someone edited it). Shared by the managed stores.
 */
import type { StorePosition, Values } from '../engine/ports.js';

/**
 * @example
 * positionOf(new Map([['A', 'new-a'], ['B', 'old-b']]), { A: 'old-a', B: 'old-b' }, { A: 'new-a', B: 'new-b' }); // 'partial'
 */
export function positionOf(
  held: ReadonlyMap<string, string | undefined>,
  old: Values,
  next: Values,
): StorePosition {
  let atNew = 0;
  let atOld = 0;
  const keys = Object.keys(next);
  for (const key of keys) {
    const value = held.get(key);
    const isNew = value === next[key];
    const isOld = value === old[key];
    if (!isNew && !isOld) return 'other';
    if (isNew) atNew += 1;
    if (isOld) atOld += 1;
  }
  if (atNew === keys.length) return 'new';
  if (atOld === keys.length) return 'old';
  return 'partial';
}

/**
 * True when no key holds its new value: nothing the rotation wrote is in the store (what is there
 * was written by someone else, and a rollback must keep it). Restores are then no-ops.
 *
 * @example
 * holdsNoneOf(new Map([['A', 'theirs']]), { A: 'new-a' }); // true
 */
export function holdsNoneOf(held: ReadonlyMap<string, string | undefined>, next: Values): boolean {
  return Object.keys(next).every((key) => held.get(key) !== next[key]);
}
