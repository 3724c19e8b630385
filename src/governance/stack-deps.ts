/**
 * The engine's dependencies as the commands hold them: `EngineDeps` (what the engine is given, never
 * the whole config) with the loaded config beside them, for what the commands, governance and the
 * scheduler read themselves (approvals, audit, the stack's name and folder).
 */
import type { LoadedConfig } from '../config/load.js';
import type { EngineDeps } from '../engine/run.js';

export type StackDeps = EngineDeps & { readonly loaded: LoadedConfig };
