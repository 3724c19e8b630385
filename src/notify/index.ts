/**
 * Notifications (`notify:` in rekey.yaml, docs/notify.md): rotation events POSTed to webhooks, each
 * body signed with HMAC-SHA256 (./sign.ts), retried with backoff and bounded in time (./deliver.ts).
 * A failed delivery is a warning and nothing else: it never blocks, fails or changes a rotation.
 * Below the engine: the CLI maps a rotation's result to an event and wires the calls.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { LoadedConfig } from '../config/load.js';
import type { WebhookConfig } from '../config/notify.js';
import { envValues } from '../envfile/index.js';
import { parseDuration } from '../lib/duration.js';
import { redactor, safeMessage } from '../lib/redact.js';
import { deliver, webhookName } from './deliver.js';
import { type NotifyEvent, slackText } from './event.js';
import { recordFailure } from './failures.js';

export type { NotifyEventName } from '../config/notify.js';
export type { NotifyEvent, OverdueFacts, RequestFacts, RotationFacts } from './event.js';
export { countFailures, FAILURES_FILE, type NotifyFailureCount } from './failures.js';
export { DEFAULT_TOLERANCE_SECONDS, signBody, verifyWebhook } from './sign.js';

/** An event as a caller gives it: the id, stack, time and version are filled in. */
export type EventInput = Omit<NotifyEvent, 'version' | 'id' | 'stack' | 'time'> & { readonly time?: string };

export interface Notifier {
  /** False when rekey.yaml has no `notify:` (send does nothing). */
  readonly configured: boolean;
  /**
   * Sends an event to every webhook that wants it, in parallel. Resolves when every delivery ended
   * (delivered, or given up on with a warning); never rejects.
   */
  send(event: EventInput): Promise<void>;
}

/** The HMAC key of a webhook, from its file or its env-file (store) key; registered for redaction. */
async function keyOf(loaded: LoadedConfig, w: WebhookConfig): Promise<Buffer | undefined> {
  let value: string | undefined;
  if (w.secretFile !== undefined) {
    value = (await fs.readFile(path.resolve(loaded.dir, w.secretFile), 'utf8')).trim();
  } else if (w.secretKey !== undefined) {
    const values = loaded.env ? envValues(loaded.env.doc) : await loaded.readStore?.();
    value = values?.get(w.secretKey);
    if (value === undefined || value === '') throw new Error(`${w.secretKey} is not set`);
  } else {
    return undefined;
  }
  if (value === '') throw new Error('the key file is empty');
  redactor.add('notify key', value);
  return Buffer.from(value, 'utf8');
}

/**
 * The stack's notifier.
 *
 * @example
 * const notifier = createNotifier(loaded, { warn: (m) => progress.note(`warning: ${m}`) });
 * await notifier.send({ event: 'completed', rotation: { id, kind: 'rotate', keys: ['JWT_SECRET'], outcome: 'rotated' } });
 */
export function createNotifier(
  loaded: LoadedConfig,
  options: { warn: (message: string) => void; now?: () => Date },
): Notifier {
  const hooks = loaded.config.notify ?? [];
  const now = options.now ?? (() => new Date());
  const keys = new Map<WebhookConfig, Promise<Buffer | undefined>>();
  const keyFor = (w: WebhookConfig) => {
    let k = keys.get(w);
    if (k === undefined) {
      k = keyOf(loaded, w);
      keys.set(w, k);
    }
    return k;
  };
  return {
    configured: hooks.length > 0,
    async send(input) {
      const event: NotifyEvent = {
        version: 1,
        id: randomBytes(8).toString('hex'),
        event: input.event,
        stack: loaded.stack,
        time: input.time ?? now().toISOString(),
        ...(input.rotation ? { rotation: input.rotation } : {}),
        ...(input.overdue ? { overdue: input.overdue } : {}),
        ...(input.request ? { request: input.request } : {}),
      };
      const wanted = hooks.filter((w) => w.events === undefined || w.events.includes(event.event));
      await Promise.all(
        wanted.map(async (w) => {
          const name = webhookName(w.url);
          const failed = (attempts: number, reason: string) =>
            recordFailure(loaded.stateDir, {
              time: now().toISOString(),
              event: event.event,
              origin: name,
              attempts,
              reason,
            }).catch((e) =>
              options.warn(`notification failure not recorded for /metrics: ${safeMessage(e)}`),
            );
          let key: Buffer | undefined;
          try {
            key = await keyFor(w);
          } catch (e) {
            options.warn(
              `notification "${event.event}" to ${name} not sent: its HMAC key could not be read (${safeMessage(e)})`,
            );
            await failed(0, 'HMAC key unreadable');
            return;
          }
          const body =
            w.format === 'slack' ? JSON.stringify({ text: slackText(event) }) : JSON.stringify(event);
          const r = await deliver({
            url: w.url,
            ...(key ? { key } : {}),
            body,
            id: event.id,
            event: event.event,
            timeoutMs: parseDuration(w.timeout) ?? 5000,
            now,
          });
          if (!r.ok) {
            options.warn(
              `notification "${event.event}" to ${name} not delivered after ${r.attempts} attempt${r.attempts === 1 ? '' : 's'}: ${r.reason}`,
            );
            await failed(r.attempts, r.reason);
          }
        }),
      ).catch((e) => options.warn(`notification "${event.event}" not sent: ${safeMessage(e)}`));
    },
  };
}
