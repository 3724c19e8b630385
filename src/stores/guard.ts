/** The write guard of a store write when the engine gives none (tests, `rekey migrate`): the write as is. */
import type { StoreWriteGuard } from '../engine/ports.js';

export const unguarded: StoreWriteGuard = (_what, write) => write();
