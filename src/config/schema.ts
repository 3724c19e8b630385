/**
 * The rekey.yaml schema (zod). Unknown keys are errors, so a typo never silently disables a safety.
 * The JSON Schema in `schema/rekey.schema.json` is generated from this file (`npm run schema`).
 */
import { z } from 'zod';
import { SECRET_TYPE_SPECS, type SecretSchemas } from '../targets/registry.js';
import { kubernetesDeploySchema } from './kubernetes.js';
import { notifySchema } from './notify.js';
import { duration, envKey } from './pieces.js';
import { storeSchema } from './store.js';
import { TRIGGERS } from './triggers.js';

export {
  SECRET_TYPES,
  type SecretConfig,
  type SecretConfigOf,
  type SecretType,
} from '../targets/registry.js';
export { TRIGGERS, type Trigger } from './triggers.js';

/**
 * A secret of any type: the union of the schemas the types declare in their folders
 * (src/targets/<type>/config.ts), in the order src/targets/registry.ts lists them.
 */
export const secretSchema = z.discriminatedUnion(
  'type',
  SECRET_TYPE_SPECS.map((s) => s.schema) as unknown as SecretSchemas,
);

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

/** `deploy:` as a shell command (the playbook's `scripts/deploy.sh deploy`). */
export const commandDeploySchema = z.strictObject({
  command: z.string().min(1),
  rollback: z.string().min(1).optional(),
  timeout: duration.default('5m'),
  passEnv: z
    .array(envKey)
    .default([])
    .describe('Env-file keys passed to the deploy command (none by default).'),
});

/** `deploy:` as Kubernetes rollouts (DESIGN.md, "Kubernetes deploy"). */
export const kubernetesDeploySection = z.strictObject({
  kubernetes: kubernetesDeploySchema.describe(
    'Workloads restarted like `kubectl rollout restart`, one after another in the listed order, each rolled out (`kubectl rollout status`) before the next; rollback restarts them again on the old values.',
  ),
});

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * `deploy:` is a command or Kubernetes rollouts, never both. A section that fits neither says which
 * (zod reports a union's own failure as "Invalid input"); one that fits one form reports that form's
 * issue at its path.
 */
const deploySchema = z.union([commandDeploySchema, kubernetesDeploySection], {
  error: (issue) => {
    const d = issue.input;
    if (!isObject(d))
      return 'expected a mapping: { command: ... } or { kubernetes: { namespace, workloads } }';
    if ('command' in d && 'kubernetes' in d)
      return 'command and kubernetes are both set: a deploy is a command or Kubernetes rollouts, not both';
    if (!('command' in d) && !('kubernetes' in d))
      return 'needs command (a deploy command) or kubernetes ({ namespace, workloads })';
    // The form the section names: its first issue, at its path under `deploy`.
    const branch = (issue as { errors?: z.core.$ZodIssue[][] }).errors?.['kubernetes' in d ? 1 : 0];
    const first = branch?.[0];
    if (first === undefined) return undefined;
    const where = first.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
    const what =
      first.code === 'invalid_type'
        ? `expected ${first.expected}${/received undefined$/.test(first.message) ? ' (missing)' : ''}`
        : first.message.replace(/^Invalid input: /, '');
    return `${where.replace(/^\./, '')}: ${what}`;
  },
});

export type CommandDeployConfig = z.output<typeof commandDeploySchema>;
export type DeployConfig = z.output<typeof deploySchema>;

export const verifyCheckSchema = z.union([httpCheck, loginCheck]);
export type VerifyCheck = z.infer<typeof verifyCheckSchema>;

export const configSchema = z.strictObject({
  $schema: z.string().optional(),
  stack: z.string().min(1).optional().describe('Name of the stack (default: the config folder name).'),
  envFile: z
    .string()
    .min(1)
    .optional()
    .describe(
      'The env file the app reads its secrets from; required unless store: is set (then it is neither read nor written).',
    ),
  store: storeSchema
    .optional()
    .describe(
      'Where the app reads its managed secrets when not the env file: a Vault KV v2 secret, AWS SSM parameters or an AWS Secrets Manager secret (docs/stores.md).',
    ),
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
  deploy: deploySchema
    .optional()
    .describe(
      'How consumers pick up the new values: a shell command (`command`, `rollback`, `timeout`, `passEnv`) or Kubernetes rollouts (`kubernetes`); one or the other.',
    ),
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
      interval: duration
        .optional()
        .describe(
          'Spacing between two consecutive successes of a check, and the base of the backoff after a failure (default 250ms, from the settle benchmark of the demo app).',
        ),
    })
    .default({ deadline: '120s', attemptTimeout: '5s', successes: 2 }),
  concurrency: z
    .number()
    .int()
    .min(1)
    .max(64)
    .default(8)
    .describe(
      'How many targets a rotation works on at once: consecutive steps of one phase on different targets (stage, test, invalidate, finish), the preflight checks and the validation table. 1: one after another.',
    ),
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
  notify: notifySchema.optional(),
});

export type RawConfig = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;
