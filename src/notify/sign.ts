/**
 * The webhook signature (docs/notify.md): `X-Rekey-Timestamp: <unix seconds>` and
 * `X-Rekey-Signature: sha256=<hex>`, the HMAC-SHA256 under the webhook's key of
 * `<timestamp> + "." + <raw body bytes>`. Signing the timestamp with the body lets a receiver
 * refuse a replayed delivery: a captured body cannot be re-sent with a fresh timestamp, and an old
 * timestamp falls outside the receiver's tolerance (5 minutes by default). Within that window a
 * receiver drops a repeated `X-Rekey-Delivery` (every attempt of one event carries the event's id).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** How far a delivery's timestamp may be from the receiver's clock by default. */
export const DEFAULT_TOLERANCE_SECONDS = 300;

/**
 * The `X-Rekey-Signature` header value for a body sent at `timestamp` (unix seconds).
 *
 * @example
 * signBody(key, '1764892800', '{"event":"completed"}'); // 'sha256=5f1c…'
 */
export function signBody(key: string | Buffer, timestamp: string, body: string | Buffer): string {
  const mac = createHmac('sha256', key);
  mac.update(`${timestamp}.`);
  mac.update(body);
  return `sha256=${mac.digest('hex')}`;
}

export interface VerifyInput {
  /** The webhook's key. */
  readonly key: string | Buffer;
  /** The raw request body, exactly as received (before any JSON parsing). */
  readonly body: string | Buffer;
  /** The `X-Rekey-Timestamp` header. */
  readonly timestamp: string | undefined;
  /** The `X-Rekey-Signature` header. */
  readonly signature: string | undefined;
  /** The receiver's clock (default: now). */
  readonly now?: Date;
  /** Seconds a timestamp may differ from `now` (default 300). */
  readonly toleranceSeconds?: number;
}

/**
 * A receiver's check of a delivery: `ok` only when the signature matches the timestamp and the body
 * (constant-time compare) and the timestamp is within the tolerance. What a receiver should run
 * before trusting a delivery (docs/notify.md).
 *
 * @example
 * const v = verifyWebhook({ key, body: rawBody, timestamp: req.headers['x-rekey-timestamp'], signature: req.headers['x-rekey-signature'] });
 * if (!v.ok) return res.writeHead(401).end(v.reason);
 */
export function verifyWebhook(input: VerifyInput): { ok: true } | { ok: false; reason: string } {
  const { timestamp, signature } = input;
  if (timestamp === undefined || !/^\d{1,12}$/.test(timestamp)) {
    return { ok: false, reason: 'missing or malformed X-Rekey-Timestamp' };
  }
  if (signature === undefined || !/^sha256=[0-9a-f]{64}$/.test(signature)) {
    return { ok: false, reason: 'missing or malformed X-Rekey-Signature' };
  }
  const expected = Buffer.from(signBody(input.key, timestamp, input.body));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
    return { ok: false, reason: 'signature does not match the body and timestamp' };
  }
  const now = Math.floor((input.now ?? new Date()).getTime() / 1000);
  const tolerance = input.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  if (Math.abs(now - Number(timestamp)) > tolerance) {
    return { ok: false, reason: `timestamp outside the ${tolerance}s tolerance (a replay?)` };
  }
  return { ok: true };
}
