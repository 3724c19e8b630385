/**
 * What a worker tells the runner's primary over the cluster IPC channel. The primary tells workers
 * nothing: it stops them with SIGTERM, like any process manager would.
 */
import { ENV_FILE_VARIABLE } from './config.js';

/** Environment variables the primary sets for each worker (paths and numbers, never a secret). */
export const WORKER_ENV = {
  envFile: ENV_FILE_VARIABLE,
  generation: 'REKEY_DEMO_GENERATION',
  drainTimeoutMs: 'REKEY_DEMO_DRAIN_TIMEOUT_MS',
} as const;

export type WorkerMessage =
  /** Listening, and its first health check passed with the credentials it read. */
  | { type: 'rekey-demo-app:ready'; url: string }
  /** Cannot start (configuration, port): the message names keys and paths, never a value. */
  | { type: 'rekey-demo-app:fatal'; error: string };

/**
 * Narrows an IPC message to a {@link WorkerMessage}.
 *
 * @example
 * worker.on('message', (m) => { if (isWorkerMessage(m) && m.type === 'rekey-demo-app:ready') ... });
 */
export function isWorkerMessage(message: unknown): message is WorkerMessage {
  if (typeof message !== 'object' || message === null) return false;
  const { type } = message as { type?: unknown };
  return type === 'rekey-demo-app:ready' || type === 'rekey-demo-app:fatal';
}
