/**
 * Schema pieces every part of rekey.yaml shares: the secret types' own schemas
 * (src/targets/<type>/config.ts) and the rest of the file (./schema.ts). Imports only zod and lib, so
 * the types' config parts may sit below config in the layers (test/docs/layers.test.ts).
 */
import { z } from 'zod';
import { parseDuration } from '../lib/duration.js';

/** An env-file key: what docker compose and dotenv both accept. */
export const envKey = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, 'expected an env-file key such as JWT_SECRET');

export const duration = z
  .string()
  .refine((s) => parseDuration(s) !== undefined, 'expected a duration such as 90d, 12h, 5m, 30s')
  .meta({ examples: ['90d', '14d', '5m', '120s'] });

export const port = z.number().int().min(1).max(65535);

/** Fields every secret has: a type's schema is `z.strictObject({ ...commonSecretFields, type: … })`. */
export const commonSecretFields = {
  key: envKey.describe('The env-file key holding the value.'),
  description: z.string().optional(),
  length: z
    .number()
    .int()
    .positive()
    .optional()
    .describe('Characters (passwords) or random bytes (jwt, api-key) of a new value.'),
  alphabet: z.string().min(2).optional().describe('Characters a new value is drawn from (passwords only).'),
  everyClass: z
    .boolean()
    .optional()
    .describe('Require one character of every class the alphabet has (for strict password policies).'),
  maxAge: duration.optional().describe('Overrides policy.maxAge for this secret.'),
  warnBefore: duration.optional(),
  unattended: z
    .boolean()
    .optional()
    .describe('`rekey schedule` may rotate it without approvals (a standing approval, recorded in audit).'),
};
