/** Builds the target of a grafana secret: named by ./config.ts. */
import type { TargetFactory } from '../kind.js';
import { grafanaTarget } from './index.js';

export const create: TargetFactory<'grafana'> = (secret, env) => grafanaTarget(secret, env);
