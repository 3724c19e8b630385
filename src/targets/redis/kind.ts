/** Builds the target of a redis secret: named by ./config.ts, loaded (with node-redis) only when configured. */
import type { TargetFactory } from '../kind.js';
import { redisTarget } from './index.js';

export const create: TargetFactory<'redis'> = (secret, env) => redisTarget(secret, env);
