/** Builds the target of a file-token secret: named by ./config.ts, loaded only when one is configured. */
import type { TargetFactory } from '../kind.js';
import { fileTokenTarget } from './target.js';

export const create: TargetFactory<'file-token'> = (secret, env) => fileTokenTarget(secret, env.configDir);
