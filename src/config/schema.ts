/**
 * The rekey.yaml schema (zod). Unknown keys are errors, so a typo never silently disables a safety.
 * The JSON Schema in `schema/rekey.schema.json` is generated from this file (`npm run schema`).
 */
import { z } from 'zod';
import { parseDuration } from '../lib/duration.js';

import { TRIGGERS } from './triggers.js';

export { TRIGGERS, type Trigger } from './triggers.js';

export const SECRET_TYPES = ['jwt', 'api-key', 'generic', 'postgres', 'redis', 'grafana', 'command'] as const;
export type SecretType = (typeof SECRET_TYPES)[number];

/** An env-file key: what docker compose and dotenv both accept. */
const envKey = z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, 'expected an env-file key such as JWT_SECRET');

const duration = z
  .string()
  .refine((s) => parseDuration(s) !== undefined, 'expected a duration such as 90d, 12h, 5m, 30s')
  .meta({ examples: ['90d', '14d', '5m', '120s'] });

const port = z.number().int().min(1).max(65535);

/** Fields every secret has. */
const common = {
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

const jwtSecret = z.strictObject({
  ...common,
  type: z.literal('jwt'),
  previousKey: envKey.optional().describe('Receives the old value, so tokens in flight keep verifying.'),
});

const apiKeySecret = z.strictObject({
  ...common,
  type: z.literal('api-key'),
  previousKey: envKey.optional().describe('Receives the old value for a grace window.'),
});

const genericSecret = z.strictObject({ ...common, type: z.literal('generic') });

const postgresSecret = z.strictObject({
  ...common,
  type: z.literal('postgres'),
  host: z.string().default('127.0.0.1'),
  port: port.default(5432),
  user: z.string().min(1).describe('The role whose password is rotated (single) or the current role.'),
  database: z.string().min(1).default('postgres'),
  sslmode: z.enum(['disable', 'prefer', 'require', 'verify-ca', 'verify-full']).optional(),
  strategy: z.enum(['single', 'alternating']).default('single'),
  roles: z
    .tuple([z.string().min(1), z.string().min(1)])
    .optional()
    .describe('alternating: the two login roles.'),
  memberOf: z
    .string()
    .optional()
    .describe('alternating: the application role the login roles are members of (grants are shared).'),
  userKey: envKey.optional().describe('alternating: the env key that names the role (e.g. POSTGRES_USER).'),
  admin: z
    .strictObject({ user: z.string().min(1), passwordKey: envKey })
    .optional()
    .describe('A role with CREATEROLE, for alternating roles and VALID UNTIL.'),
  validUntil: z.string().default('infinity').describe('VALID UNTIL set with every new password.'),
  terminateOnCompromise: z.boolean().default(true),
});

const redisSecret = z.strictObject({
  ...common,
  type: z.literal('redis'),
  host: z.string().default('127.0.0.1'),
  port: port.default(6379),
  user: z.string().min(1).default('default'),
  tls: z.boolean().default(false),
  persist: z
    .enum(['auto', 'rewrite', 'acl-save', 'none'])
    .default('auto')
    .describe('How the new password survives a Redis restart; auto detects config file / aclfile.'),
  admin: z
    .strictObject({ user: z.string().min(1), passwordKey: envKey })
    .optional()
    .describe(
      'An ACL user allowed ACL, CONFIG and CLIENT (e.g. default), for a least-privileged `user`: ACL reads and changes, persistence and eviction go through it. Its password (passwordKey in the env file) is read, never rotated.',
    ),
});

const grafanaSecret = z.strictObject({
  ...common,
  type: z.literal('grafana'),
  url: z.string().url(),
  user: z.string().min(1).default('admin'),
  deleteTokensOnCompromise: z
    .boolean()
    .default(false)
    .describe(
      "On --trigger compromise, delete the service-account tokens created since the previous rotation (rekey keeps their ids and names, never their values, in the state directory). Off by default: rekey cannot tell an attacker's token from one a colleague made for an integration since then, and deleting it breaks that integration; off, they are reported by name. Sessions of the user are revoked either way.",
    ),
});

const commandSecret = z.strictObject({
  ...common,
  type: z.literal('command'),
  run: z
    .string()
    .min(1)
    .describe('Shell command run for every operation; reads {op,key,trigger,cur,next} as JSON on stdin.'),
  overlap: z
    .boolean()
    .default(false)
    .describe('True when the service accepts old and new together between stage and finish.'),
  timeout: duration.default('60s'),
});

export const secretSchema = z.discriminatedUnion('type', [
  jwtSecret,
  apiKeySecret,
  genericSecret,
  postgresSecret,
  redisSecret,
  grafanaSecret,
  commandSecret,
]);
export type SecretConfig = z.infer<typeof secretSchema>;
export type SecretConfigOf<T extends SecretType> = Extract<SecretConfig, { type: T }>;

const httpCheck = z.strictObject({
  name: z.string().min(1),
  http: z.string().url(),
  method: z.enum(['GET', 'POST', 'HEAD']).default('GET'),
  headers: z.record(z.string(), z.string()).optional(),
  expect: z.union([z.number().int(), z.array(z.number().int())]).default(200),
  contains: z.string().optional(),
});

const loginCheck = z.strictObject({
  name: z.string().min(1),
  login: z.strictObject({
    url: z.string().url(),
    body: z.record(z.string(), z.string()),
    tokenField: z.string().default('token'),
  }),
  jwtKey: envKey.describe('The jwt secret the issued token must verify with.'),
});

export const verifyCheckSchema = z.union([httpCheck, loginCheck]);
export type VerifyCheck = z.infer<typeof verifyCheckSchema>;

export const configSchema = z.strictObject({
  $schema: z.string().optional(),
  stack: z.string().min(1).optional().describe('Name of the stack (default: the config folder name).'),
  envFile: z.string().min(1),
  stateDir: z.string().default('.rekey'),
  envFileMode: z
    .string()
    .regex(/^0?[0-7]{3}$/, 'an octal mode such as "0600"')
    .refine((m) => (Number.parseInt(m, 8) & ~0o640) === 0 && (Number.parseInt(m, 8) & 0o400) !== 0, {
      message: 'at most "0640": owner read (and write), group read; others nothing',
    })
    .default('0600')
    .describe(
      'Mode of the env file after a rotation (default "0600", at most "0640"); never wider than the file was.',
    ),
  policy: z
    .strictObject({
      maxAge: duration.default('90d'),
      warnBefore: duration.default('14d'),
      releaseMaxAge: duration.optional(),
    })
    .default({ maxAge: '90d', warnBefore: '14d' }),
  secrets: z.array(secretSchema).min(1),
  deploy: z
    .strictObject({
      command: z.string().min(1),
      rollback: z.string().min(1).optional(),
      timeout: duration.default('5m'),
      passEnv: z
        .array(envKey)
        .default([])
        .describe('Env-file keys passed to the deploy command (none by default).'),
    })
    .optional(),
  sessions: z
    .strictObject({
      redis: z
        .strictObject({
          secret: envKey
            .optional()
            .describe('The redis secret whose server holds sessions (default: the first).'),
          patterns: z.array(z.string().min(1)).optional(),
          flushDb: z.number().int().min(0).optional(),
          flushAll: z.boolean().optional(),
          batch: z.number().int().min(10).max(100_000).default(1000),
          on: z
            .array(z.enum(TRIGGERS))
            .optional()
            .describe('Triggers that purge (default: all; compromise always).'),
          evictUnknown: z
            .boolean()
            .optional()
            .describe(
              'On --trigger compromise, also remove passwords other ACL users gained since preflight (default false: report them by name only).',
            ),
        })
        .optional(),
    })
    .optional(),
  verify: z.array(verifyCheckSchema).default([]),
  verifyPolicy: z
    .strictObject({
      deadline: duration.default('120s'),
      attemptTimeout: duration.default('5s'),
      successes: z.number().int().min(1).default(2),
    })
    .default({ deadline: '120s', attemptTimeout: '5s', successes: 2 }),
  approvals: z
    .strictObject({
      require: z.array(z.string().min(1)).min(1),
      allowedSigners: z.string().min(1),
      roles: z.record(z.string(), z.array(z.string().min(1))),
      expiry: duration.default('7d'),
      forbidSelfApproval: z
        .boolean()
        .default(true)
        .describe(
          'The requester cannot approve their own request: no principal of the key that signed it (`rekey request --key`), nor that key. Requests must then be signed: an unsigned one is refused. false: requests may be unsigned (the requester is then only a declared name).',
        ),
      breakGlass: z
        .union([z.literal(false), z.strictObject({ allowed: z.array(z.string().min(1)).min(1) })])
        .optional()
        .describe(
          'false: --break-glass is refused. { allowed: [...] }: only these principals may break glass, proven by a --key signature (allowed_signers); an OS user never is. Absent: anyone may.',
        ),
      breakGlassDeadline: duration
        .default('24h')
        .describe('`rekey check` exits 3 while a break-glass rotation older than this lacks its approvals.'),
    })
    .optional(),
  audit: z
    .strictObject({
      file: z.string().default('rekey-audit.jsonl'),
      keyFile: z
        .string()
        .min(1)
        .optional()
        .describe(
          'The audit key (fingerprints, record MACs), relative to rekey.yaml; default <stateDir>/audit.key. Keep it where readers of the log cannot read it.',
        ),
      anchor: z
        .union([z.strictObject({ file: z.string().min(1) }), z.strictObject({ command: z.string().min(1) })])
        .optional()
        .describe(
          "A second place for the log's head (last seq and hash) after each append: a file (one JSON line appended per head) or a command (receives the head as one JSON line on stdin).",
        ),
    })
    .default({ file: 'rekey-audit.jsonl' }),
  backups: z
    .strictObject({
      encryptTo: z.array(z.string().min(1)).optional(),
      archiveDir: z.string().optional(),
      deleteLocal: z.boolean().default(false),
      keep: z.number().int().positive().optional(),
    })
    .optional(),
  schedule: z
    .strictObject({
      cron: z.string().default('0 3 * * *'),
      jitter: duration.default('10m'),
      retries: z.number().int().min(0).default(3),
      backoff: duration.default('1m'),
      maxFailures: z.number().int().min(1).default(3),
    })
    .optional(),
});

export type RawConfig = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;
