/**
 * The tamper-evident audit log: append-only JSONL, one record per rotation, rollback, recover,
 * request and approval, hash-chained (`prev`), its head pinned in the state directory, secrets
 * identified by HMAC fingerprints under a per-install key. Format: `types.ts`.
 */
export type { AppendResult, AuditDraft, AuditPaths } from './append.js';
export { appendAudit, readHead } from './append.js';
export type { ChainHead, ChainVerdict } from './chain.js';
export { verifyChain } from './chain.js';
export { checkValue, type ValueCheck } from './check-value.js';
export { auditKey, fingerprint, readAuditKey } from './key.js';
export { auditFileOf, auditPaths, readAuditLog, verifyAuditLog } from './read.js';
export { fingerprintSecrets } from './secrets.js';
export { stackRecords } from './stack.js';
export type { AuditKind, AuditOutcome, AuditRecord, AuditSecret } from './types.js';
export { GENESIS } from './types.js';
