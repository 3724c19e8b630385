/** Builds the target of a file-held secret (jwt, api-key, generic): named by ./config.ts. */
import type { TargetFactory } from '../kind.js';
import { fileHeldTarget } from './file-held.js';

export const create: TargetFactory<'jwt' | 'api-key' | 'generic'> = (secret) => fileHeldTarget(secret);
