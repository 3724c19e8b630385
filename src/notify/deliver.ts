/**
 * One webhook delivery: POST, retried with backoff, bounded in time, never thrown. What a failure
 * reports names the webhook by its origin only (a Slack webhook's path and a query string are
 * credentials) and never the key.
 */
import { signBody } from './sign.js';

/** Attempts per delivery (the first and two retries). */
export const ATTEMPTS = 3;
/** Waits before the second and third attempts. */
export const BACKOFF_MS = [1000, 2000] as const;

export interface Delivery {
  readonly url: string;
  /** The HMAC key; absent for an unsigned (Slack) webhook. */
  readonly key?: Buffer;
  /** The raw body, sent and signed as is. */
  readonly body: string;
  /** The event id (`X-Rekey-Delivery`). */
  readonly id: string;
  readonly event: string;
  /** Per attempt. */
  readonly timeoutMs: number;
  readonly now?: () => Date;
}

export type DeliveryResult =
  | { readonly ok: true; readonly attempts: number; readonly status: number }
  | { readonly ok: false; readonly attempts: number; readonly reason: string };

/**
 * What a webhook is called in messages: its origin (`https://hooks.slack.com`).
 *
 * @example
 * webhookName('https://hooks.slack.com/services/T0/B0/XyZ?x=1'); // 'https://hooks.slack.com'
 */
export function webhookName(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'a webhook';
  }
}

/** The headers of one attempt: signed afresh with the attempt's timestamp. */
export function deliveryHeaders(d: Delivery, at: Date): Record<string, string> {
  const timestamp = String(Math.floor(at.getTime() / 1000));
  return {
    'content-type': 'application/json',
    'user-agent': 'rekey-notify/1',
    'x-rekey-event': d.event,
    'x-rekey-delivery': d.id,
    'x-rekey-timestamp': timestamp,
    ...(d.key ? { 'x-rekey-signature': signBody(d.key, timestamp, d.body) } : {}),
  };
}

/** Why an attempt failed, in words that carry no URL and no body. */
function reasonOf(e: unknown): string {
  if (e instanceof Error) {
    if (e.name === 'TimeoutError' || e.name === 'AbortError') return 'no answer within the timeout';
    const code = (e.cause as { code?: unknown } | undefined)?.code;
    if (typeof code === 'string') return code;
  }
  return 'connection failed';
}

const retryable = (status: number) => status >= 500 || status === 408 || status === 429;

/**
 * POSTs a delivery: up to {@link ATTEMPTS} attempts, each cut at `timeoutMs`, waiting
 * {@link BACKOFF_MS} between them; a 2xx ends it, a 4xx other than 408/429 stops retrying.
 * Redirects are not followed. Never throws; takes at most 3 × timeout + 3s.
 *
 * @example
 * const r = await deliver({ url, key, body, id, event: 'completed', timeoutMs: 5000 });
 * if (!r.ok) warn(`not delivered: ${r.reason}`);
 */
export async function deliver(d: Delivery): Promise<DeliveryResult> {
  let reason = 'not attempted';
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    try {
      const res = await fetch(d.url, {
        method: 'POST',
        headers: deliveryHeaders(d, (d.now ?? (() => new Date()))()),
        body: d.body,
        redirect: 'manual',
        signal: AbortSignal.timeout(d.timeoutMs),
      });
      // The answer's body is not needed: drop it so the connection is freed.
      await res.body?.cancel().catch(() => {});
      if (res.status >= 200 && res.status < 300) return { ok: true, attempts: attempt, status: res.status };
      reason = `HTTP ${res.status}`;
      if (!retryable(res.status)) return { ok: false, attempts: attempt, reason };
    } catch (e) {
      reason = reasonOf(e);
    }
    const wait = BACKOFF_MS[attempt - 1];
    if (attempt < ATTEMPTS && wait !== undefined) await new Promise((r) => setTimeout(r, wait));
  }
  return { ok: false, attempts: ATTEMPTS, reason };
}
