/**
 * Typed errors with stable codes. Every error a user can meet says what is wrong (message, one line)
 * and what to do next (hint, one line). Only `src/cli/main.ts` turns them into exit codes, through
 * {@link exitCodeOf}; docs/errors.md lists every code (kept in sync by a test).
 */

/** The contract's exit codes (DESIGN.md, "Public contract"). */
export const EXIT = {
  ok: 0,
  failedRolledBack: 1,
  usage: 2,
  overdue: 3,
  needsAttention: 4,
  approvalsMissing: 5,
  locked: 6,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** Every error code rekey can raise, with its exit code and default hint. */
export const ERROR_CODES = {
  ERR_USAGE: { exit: EXIT.usage, hint: 'Run `rekey --help` for the commands and their options.' },
  ERR_CONFIRMATION_REQUIRED: {
    exit: EXIT.usage,
    hint: 'Pass --yes to run without a terminal (cron, CI).',
  },
  ERR_ABORTED: { exit: EXIT.usage, hint: 'Nothing was changed. Run the command again to proceed.' },
  ERR_CONFIG_NOT_FOUND: {
    exit: EXIT.usage,
    hint: 'Run `rekey init --env-file PATH` to write one, or pass --config PATH.',
  },
  ERR_CONFIG_EXISTS: {
    exit: EXIT.usage,
    hint: 'rekey init never overwrites a config; edit it or remove it first.',
  },
  ERR_CONFIG_INVALID: {
    exit: EXIT.usage,
    hint: 'Fix rekey.yaml at the path named; the schema is schema/rekey.schema.json.',
  },
  ERR_CONFIG_INTERPOLATION: {
    exit: EXIT.usage,
    hint: 'Define the variable in the env file or the environment, or write the value literally.',
  },
  ERR_ENVFILE_NOT_FOUND: {
    exit: EXIT.usage,
    hint: 'Check `envFile` in rekey.yaml (paths are relative to the config).',
  },
  ERR_ENVFILE_PARSE: {
    exit: EXIT.usage,
    hint: 'Fix the line named (quotes must be closed; keys are letters, digits, _ . -).',
  },
  ERR_ENVFILE_DUPLICATE: {
    exit: EXIT.usage,
    hint: 'Remove one of the two lines so the key has a single value.',
  },
  ERR_ENVFILE_MISSING_KEY: {
    exit: EXIT.usage,
    hint: 'Add the key to the env file with its current value before rotating.',
  },
  ERR_ENVFILE_TRACKED: {
    exit: EXIT.usage,
    hint: 'Remove it from git (`git rm --cached FILE`), add it to .gitignore, and rotate: its values were exposed.',
  },
  ERR_ENVFILE_NOT_IGNORED: {
    exit: EXIT.usage,
    hint: 'Add the env file to .gitignore, or pass --allow-unignored if you accept the risk.',
  },
  ERR_ENVFILE_UNSAFE_DIR: {
    exit: EXIT.usage,
    hint: 'Make the folder writable by its owner only (`chmod go-w DIR`), or move the env file to such a folder.',
  },
  ERR_ENVFILE_CHANGED: {
    exit: EXIT.needsAttention,
    hint: 'Compare the env file with the newest backup and the journal; see docs/errors.md "When rekey stops".',
  },
  ERR_IO: {
    exit: EXIT.needsAttention,
    hint: 'Check permissions and free space on the path named, then run the command again.',
  },
  ERR_NOT_OWNED: {
    exit: EXIT.needsAttention,
    hint: 'Nothing was removed: rekey deletes only folders it created and marked (.rekey-owned). Check the path; remove it by hand only if you know what it holds.',
  },
  ERR_SECRET_WEAK: {
    exit: EXIT.usage,
    hint: 'Raise `length` or widen `alphabet` for that secret to at least 128 bits.',
  },
  ERR_TYPE_UNSUPPORTED: {
    exit: EXIT.usage,
    hint: 'Use one of the supported secret types listed in docs/secret-types.md.',
  },
  ERR_ONLY_UNKNOWN: { exit: EXIT.usage, hint: 'Name keys that appear under `secrets:` in rekey.yaml.' },
  ERR_TARGET_AUTH: {
    exit: EXIT.failedRolledBack,
    hint: 'The service rejects the credential in the env file: fix the drift by hand, then rotate.',
  },
  ERR_TARGET_UNREACHABLE: {
    exit: EXIT.failedRolledBack,
    hint: 'Start the service or fix host/port in rekey.yaml, then run again.',
  },
  ERR_TARGET_REJECTED: {
    exit: EXIT.failedRolledBack,
    hint: 'The service refused the change; read its reason above.',
  },
  ERR_TARGET_PRIVILEGE: {
    exit: EXIT.failedRolledBack,
    hint: 'Grant the privilege named to the role rekey connects as, or change the strategy.',
  },
  ERR_STORE_AUTH: {
    exit: EXIT.failedRolledBack,
    hint: "The secret store refused rekey's credentials: check the token or AWS credentials and that their policy allows reading and writing the path named.",
  },
  ERR_STORE_UNREACHABLE: {
    exit: EXIT.failedRolledBack,
    hint: 'Check the store address, region or endpoint and the network (throttling and 5xx were retried), then run again.',
  },
  ERR_STORE_REJECTED: {
    exit: EXIT.failedRolledBack,
    hint: 'The secret store refused the request; read its reason above.',
  },
  ERR_STORE_UNSUITABLE: {
    exit: EXIT.usage,
    hint: 'Fix the store or `store:` in rekey.yaml as the message says (for example a KV v2 mount keeping at least 2 versions), then run again.',
  },
  ERR_STORE_CONFLICT: {
    exit: EXIT.failedRolledBack,
    hint: 'Another writer changed the secret store since rekey read it; find who writes there, then rotate again.',
  },
  ERR_STORE_CHANGED: {
    exit: EXIT.needsAttention,
    hint: 'The store holds values that are neither the old nor the new ones: compare its versions with the journal; see docs/errors.md "When rekey stops".',
  },
  ERR_PREFLIGHT: {
    exit: EXIT.failedRolledBack,
    hint: 'Nothing was changed. Fix what is named above and run again.',
  },
  ERR_ROTATION_FAILED: {
    exit: EXIT.failedRolledBack,
    hint: 'Every service was returned to its old credential; fix the cause named above and rotate again.',
  },
  ERR_ROLLBACK_FAILED: {
    exit: EXIT.needsAttention,
    hint: 'Follow the repair steps printed above, then run `rekey recover`.',
  },
  ERR_NEEDS_ATTENTION: {
    exit: EXIT.needsAttention,
    hint: 'Follow the steps printed above, then run `rekey recover`.',
  },
  ERR_DEPLOY_FAILED: {
    exit: EXIT.failedRolledBack,
    hint: 'Read the deploy output above (secrets redacted) and fix the deploy.',
  },
  ERR_DEPLOY_TIMEOUT: {
    exit: EXIT.failedRolledBack,
    hint: 'Raise `deploy.timeout` or find why the deploy hangs.',
  },
  ERR_VERIFY_FAILED: {
    exit: EXIT.failedRolledBack,
    hint: 'A post-rotation check failed; see the validation table above.',
  },
  ERR_FOOTHOLD_FOUND: {
    exit: EXIT.failedRolledBack,
    hint: 'Remove what the eviction report lists as FOUND, then run `rekey verify --trigger compromise` again.',
  },
  ERR_LOCKED: {
    exit: EXIT.locked,
    hint: 'Wait for the running rotation to end; never delete the lock by hand.',
  },
  ERR_LOCK_STALE: {
    exit: EXIT.locked,
    hint: 'The holder died. Run `rekey recover` to finish or undo its rotation.',
  },
  ERR_RECOVERY_PENDING: {
    exit: EXIT.locked,
    hint: 'Run `rekey recover` to finish or undo the interrupted rotation first.',
  },
  ERR_JOURNAL_CORRUPT: {
    exit: EXIT.needsAttention,
    hint: 'Inspect .rekey/journal.json and the newest backup; see docs/errors.md "When rekey stops".',
  },
  ERR_BACKUP_NOT_FOUND: {
    exit: EXIT.usage,
    hint: 'Pass --backup PATH naming an existing backup of the env file.',
  },
  ERR_APPROVAL_MISSING: {
    exit: EXIT.approvalsMissing,
    hint: 'Collect the missing approvals with `rekey approve`, then rotate.',
  },
  ERR_APPROVAL_INVALID: {
    exit: EXIT.approvalsMissing,
    hint: 'Create a new request with `rekey request` and have it approved.',
  },
  ERR_INTERRUPTED: {
    exit: EXIT.failedRolledBack,
    hint: 'The rotation was interrupted and rolled back; run it again when ready.',
  },
  ERR_AUDIT_BROKEN: {
    exit: EXIT.failedRolledBack,
    hint: 'The audit log was altered; keep a copy for investigation.',
  },
  ERR_INJECTED_FAULT: {
    exit: EXIT.failedRolledBack,
    hint: 'A fault was injected with REKEY_FAIL_AT (a test hook); unset it.',
  },
  ERR_DEMO_FAILED: {
    exit: EXIT.failedRolledBack,
    hint: 'Read the claims marked ✗ above; run with --keep to inspect the stack.',
  },
  ERR_INTERNAL: {
    exit: EXIT.needsAttention,
    hint: 'This is a bug in rekey. If a rotation was running, run `rekey recover`, then report it.',
  },
  ERR_DOCTOR_CRITICAL: {
    exit: EXIT.usage,
    hint: 'Fix them (`rekey doctor` says how), or pass --force to rotate anyway.',
  },
  ERR_DOCTOR_FINDINGS: {
    exit: EXIT.overdue,
    hint: 'Fix the findings listed above (each says how), or raise --fail-on if you accept them.',
  },
  ERR_OVERDUE: {
    exit: EXIT.overdue,
    hint: 'Rotate the secrets named above (`rekey rotate --only KEYS`), then run `rekey check` again.',
  },
  ERR_SERVE_UNPROTECTED: {
    exit: EXIT.usage,
    hint: 'Bind to 127.0.0.1 (the default), or pass --token-file FILE to require a bearer token (and --tls-cert/--tls-key for HTTPS).',
  },
  ERR_SERVE_TOKEN: {
    exit: EXIT.usage,
    hint: 'Write a random token of at least 16 characters to the file, e.g. `openssl rand -hex 32 > FILE`.',
  },
  ERR_SERVE_TLS: {
    exit: EXIT.usage,
    hint: 'Pass both --tls-cert and --tls-key: a PEM certificate (chain) and its unencrypted PEM private key, readable by rekey.',
  },
  ERR_UNATTENDED_REFUSED: {
    exit: EXIT.usage,
    hint: 'Remove `unattended: true` from that secret, or name its type in `rekey schedule --allow-unattended TYPES`.',
  },
  ERR_SCHEDULE_CORRUPT: {
    exit: EXIT.needsAttention,
    hint: 'Inspect .rekey/schedule.json; removing it resets the failure counts of `rekey schedule`.',
  },
  ERR_REQUEST_NOT_FOUND: {
    exit: EXIT.usage,
    hint: 'List change requests with `rekey requests`; pass an id it shows, or the path of a request file.',
  },
  ERR_APPROVALS_OFF: {
    exit: EXIT.usage,
    hint: 'Add an `approvals:` section (require, allowedSigners, roles) to rekey.yaml to use change requests.',
  },
  ERR_BREAK_GLASS_TRIGGER: {
    exit: EXIT.usage,
    hint: '--break-glass is for a suspected compromise: add --trigger compromise, or get approvals with `rekey request`.',
  },
  ERR_SIGNER_UNKNOWN: {
    exit: EXIT.usage,
    hint: 'Add your public key to the allowed_signers file of approvals.allowedSigners, or pass --key with a listed key.',
  },
  ERR_SIGNING_FAILED: {
    exit: EXIT.usage,
    hint: 'Check that --key names your private SSH key (or its .pub, key loaded in ssh-agent) and that OpenSSH 8.2+ is installed.',
  },
  ERR_ATTACHMENT: {
    exit: EXIT.usage,
    hint: 'Pass --attach a readable file (a scan report such as bandit, safety, npm audit or Trivy JSON).',
  },
  ERR_AUDIT_VALUE_CHANGED: {
    exit: EXIT.failedRolledBack,
    hint: 'The value was changed outside rekey (hand edit, restore, another tool): find out who changed it, then rotate it.',
  },
  ERR_AUDIT_NO_RECORD: {
    exit: EXIT.usage,
    hint: 'The audit log has no fingerprint for that key yet: rotate it once with rekey.',
  },
  ERR_AUDIT_WRITE: {
    exit: EXIT.needsAttention,
    hint: 'Fix the audit file named above (or its folder, the disk), then run `rekey recover`: it writes the pending record once.',
  },
  ERR_AUDIT_KEY: {
    exit: EXIT.needsAttention,
    hint: 'Restore .rekey/audit.key from a backup of the state directory; without it no fingerprint can be checked.',
  },
  ERR_ARCHIVE_DECRYPT: {
    exit: EXIT.usage,
    hint: 'Pass --identity a file holding an age identity (AGE-SECRET-KEY-1...) of one of backups.encryptTo.',
  },
} as const satisfies Record<string, { exit: ExitCode; hint: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface RekeyErrorOptions {
  /** What to do next, one line. Defaults to the code's catalogue hint. */
  hint?: string;
  /** The underlying error. Never printed without redaction. */
  cause?: unknown;
  /** Extra lines printed under the message (for example repair steps). Must not contain secrets. */
  details?: string[];
  /**
   * What the service holds after this failure, when the target knows it (a revert that reached the
   * service but not its saved config): the rollback summary says it instead of "UNKNOWN".
   */
  state?: string;
}

/**
 * The one error class of rekey. Messages must never contain secret values: name keys, lines and
 * paths, not contents.
 *
 * @example
 * throw new RekeyError('ERR_ENVFILE_PARSE', '.env.production line 7: unterminated double quote');
 */
export class RekeyError extends Error {
  readonly code: ErrorCode;
  readonly hint: string;
  readonly details: string[];
  readonly state: string | undefined;

  constructor(code: ErrorCode, message: string, options: RekeyErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RekeyError';
    this.code = code;
    this.hint = options.hint ?? ERROR_CODES[code].hint;
    this.details = options.details ?? [];
    this.state = options.state;
  }

  get exitCode(): ExitCode {
    return ERROR_CODES[this.code].exit;
  }
}

/** The exit code for anything thrown: a RekeyError's own, else "needs attention" (an unexpected bug). */
export function exitCodeOf(err: unknown): ExitCode {
  return err instanceof RekeyError ? err.exitCode : EXIT.needsAttention;
}

export function isRekeyError(err: unknown, code?: ErrorCode): err is RekeyError {
  return err instanceof RekeyError && (code === undefined || err.code === code);
}
