/** Builds the target of a postgres secret: named by ./config.ts, loaded (with pg) only when configured. */
import type { TargetFactory } from '../kind.js';
import { postgresTarget } from './index.js';

export const create: TargetFactory<'postgres'> = (secret, env) => postgresTarget(secret, env);
