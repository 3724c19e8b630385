/**
 * The `notify:` piece of rekey.yaml (DESIGN.md, "doctor, serve, report, notify"): webhooks told of
 * rotation events, each body signed with HMAC-SHA256 (docs/notify.md). Sent by src/notify/.
 *
 * @example
 * notify:
 *   - { url: https://hooks.example.com/rekey, secretFile: notify.key, events: [rolled-back, needs-attention] }
 */
import { z } from 'zod';
import { isLoopback } from '../lib/loopback.js';
import { duration, envKey } from './pieces.js';

export const NOTIFY_EVENTS = [
  'started',
  'completed',
  'rolled-back',
  'needs-attention',
  'overdue',
  'approval-requested',
] as const;
export type NotifyEventName = (typeof NOTIFY_EVENTS)[number];

/** Plain http only to this machine (src/lib/loopback.ts). */
function allowedUrl(raw: string): boolean {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return false;
  }
  if (u.protocol === 'https:') return true;
  if (u.protocol !== 'http:') return false;
  return isLoopback(u.hostname);
}

export const webhookSchema = z
  .strictObject({
    url: z
      .string()
      .refine(allowedUrl, 'expected an https:// URL (plain http only to 127.0.0.1, ::1 or localhost)')
      .describe('Where the POST goes: https, or plain http to this machine only.'),
    secretFile: z
      .string()
      .min(1)
      .optional()
      .describe('File holding the HMAC-SHA256 key (relative to rekey.yaml); its content, trimmed.'),
    secretKey: envKey.optional().describe('Or: the env-file (or store) key holding the HMAC-SHA256 key.'),
    events: z
      .array(z.enum(NOTIFY_EVENTS))
      .min(1)
      .optional()
      .describe('Events sent to this webhook (default: all).'),
    format: z
      .enum(['json', 'slack'])
      .default('json')
      .describe('json: the signed event document; slack: `{ "text": … }` for a Slack incoming webhook.'),
    timeout: duration.default('5s').describe('Per attempt; 3 attempts at most, so at most 3 × timeout + 3s.'),
  })
  .refine((w) => !(w.secretFile !== undefined && w.secretKey !== undefined), {
    message: 'give secretFile or secretKey, not both',
  })
  .refine((w) => w.format === 'slack' || w.secretFile !== undefined || w.secretKey !== undefined, {
    message: 'a json webhook needs secretFile or secretKey (its body is signed with HMAC-SHA256)',
  });

export const notifySchema = z
  .array(webhookSchema)
  .describe('Webhooks told of rotation events (docs/notify.md); a failed delivery is only a warning.');

export type WebhookConfig = z.output<typeof webhookSchema>;
