/**
 * The audit log's record format: JSONL, one record per rotation, rollback, recover, request and
 * approval. Each record carries `prev`, the SHA-256 of the previous line (a hash chain), so an edited,
 * deleted or reordered record breaks the chain; the chain head is also kept in the state directory so
 * a truncated tail is caught. Values never appear: secrets are identified by an HMAC fingerprint.
 */
import type { RecordedTrigger } from '../../config/triggers.js';

export type AuditKind =
  | 'rotate'
  | 'rollback'
  | 'recover'
  | 'request'
  | 'approval'
  | 'break-glass'
  | 'migrate';

/** `refused`: a rotation that change control stopped before anything changed (exit 5). */
export type AuditOutcome =
  | 'rotated'
  | 'rolled-back'
  | 'needs-attention'
  | 'nothing-to-do'
  | 'recorded'
  | 'refused';

export interface AuditSecret {
  readonly key: string;
  readonly type: string;
  /** HMAC-SHA256 of the value now in the env file, under the per-install audit key (hex). */
  readonly fingerprint: string;
}

export interface AuditRecord {
  /** 1, 2, 3 … in file order. */
  readonly seq: number;
  readonly time: string;
  readonly kind: AuditKind;
  readonly stack: string;
  /**
   * The stack the record belongs to: `<slug>-<hash>` of its env file's real path (configs sharing a
   * folder share the log). Absent in records written before stacks were told apart.
   */
  readonly stackKey?: string;
  readonly rotationId?: string;
  /** Why: a rotation trigger, `manual` (a hand rotation without `--trigger`) or `rollback`. */
  readonly trigger?: RecordedTrigger;
  readonly ticket?: string;
  readonly operator: string;
  readonly host: string;
  readonly requestId?: string;
  /** Verified approvals: the role, the principal and the fingerprint of the key that signed. */
  readonly approvals?: ReadonlyArray<{
    readonly role: string;
    readonly principal: string;
    readonly fingerprint?: string;
  }>;
  /**
   * Request and rotation records of a signed request (`rekey request --key`): the requester as
   * verified, the principal allowed_signers gives the key and the key's SHA-256 fingerprint.
   */
  readonly requestedBy?: { readonly principal: string; readonly fingerprint: string };
  readonly breakGlass?: string;
  /**
   * Break-glass records: who broke glass, `ssh` (the principal and key fingerprint of a verified
   * signature over the stack and rotation) or `os-user` (the OS account: recorded as such, it proves
   * no principal).
   */
  readonly breakGlassBy?:
    | { readonly identity: 'ssh'; readonly principal: string; readonly fingerprint: string }
    | { readonly identity: 'os-user'; readonly user: string };
  /** The secrets this record is about (rotated, rolled back, requested). */
  readonly secrets?: readonly AuditSecret[];
  readonly outcome: AuditOutcome;
  readonly phases?: ReadonlyArray<{ readonly id: string; readonly state: string; readonly ms?: number }>;
  readonly attachments?: ReadonlyArray<Record<string, unknown>>;
  readonly error?: { readonly code: string; readonly message: string };
  /** Request records: why, and until when the request can be used. */
  readonly reason?: string;
  readonly expires?: string;
  /** Run by `rekey schedule` under the standing approval of `unattended: true` secrets. */
  readonly unattended?: boolean;
  /** Rotations: the env-file backup (file name), its encrypted archive, whether the plaintext was deleted. */
  readonly backup?: { readonly file: string; readonly archive?: string; readonly localDeleted?: boolean };
  /** Migrations (`rekey migrate`): the managed store the values were copied into (where, no secret). */
  readonly store?: string;
  /** Rollbacks: the backup or archive (file name) the values came from. */
  readonly rollbackFrom?: string;
  /**
   * Rolled-back and needs-attention records: what each part holds now, by key or store (the result's
   * `state`; never a value), e.g. `{ "Vault secret": "another writer's values kept (Vault version 9); …" }`.
   */
  readonly state?: Readonly<Record<string, string>>;
  /**
   * Rotations and rollbacks: the validation table as it ended (each row's name, what was expected and
   * seen, e.g. `POSTGRES_PASSWORD (old)`: `rejected`); one redacted line each, never a value.
   */
  readonly verification?: ReadonlyArray<{
    readonly name: string;
    readonly target?: string;
    readonly ok: boolean;
    readonly expected?: string;
    readonly detail: string;
  }>;
  /** Compromise rotations: the eviction report (names and counts, never a secret). */
  readonly eviction?: ReadonlyArray<{
    readonly service: string;
    readonly foothold: string;
    readonly status: string;
    readonly text: string;
  }>;
  /** SHA-256 (hex) of the previous line's exact text; 64 zeros for the first record. */
  readonly prev: string;
  /**
   * HMAC-SHA256 of the line before this field, under a key derived from the audit key (`mac.ts`);
   * always the last field. Absent in records written before records were MACed.
   */
  readonly mac?: string;
}

export const GENESIS = '0'.repeat(64);
