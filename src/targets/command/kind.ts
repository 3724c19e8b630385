/** Builds the target of a command secret: named by ./config.ts. */
import type { TargetFactory } from '../kind.js';
import { commandTarget } from './index.js';

export const create: TargetFactory<'command'> = (secret, env) => commandTarget(secret, env.configDir);
