/**
 * Change requests: what is to be rotated, why, by whom and until when, plus the approvals signed over
 * its digest. One JSON file per request in `<stateDir>/requests/<id>.json`; a request used by a
 * rotation gets a marker `<id>.used` created exclusively (O_EXCL), so two rotations can never both
 * claim it.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { LoadedConfig } from '../../config/load.js';
import { claimStackState } from '../../config/stack-state.js';
import { REQUEST_TRIGGERS } from '../../config/triggers.js';
import { RekeyError } from '../../lib/errors.js';
import {
  ensurePrivateDir,
  ioError,
  readIfExists,
  removeDurably,
  writeFileAtomic,
  writeFileExclusive,
} from '../../lib/fsx.js';
import { sha256 } from '../../lib/hash.js';

export const REQUEST_VERSION = 1;

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$/;

const approvalSchema = z.object({
  role: z.string().min(1),
  principal: z.string().min(1),
  signature: z.string().min(1),
  signedAt: z.string(),
});

const requestSchema = z.object({
  version: z.literal(REQUEST_VERSION),
  id: z.string().regex(ID),
  stack: z.string(),
  keys: z.array(z.string()).min(1),
  trigger: z.enum(REQUEST_TRIGGERS),
  ticket: z.string().optional(),
  reason: z.string().optional(),
  requester: z.string(),
  created: z.string(),
  expires: z.string(),
  breakGlass: z.string().optional(),
  /** The stack the request is bound to (see stack-id.ts); absent in requests of older versions. */
  stackId: z.string().optional(),
  envFile: z.string().optional(),
  host: z.string().optional(),
  /**
   * A rollback request: the values it returns to, as a fingerprint (see return-to.ts); absent in
   * requests of other triggers and of older versions (which `rekey rollback` refuses).
   */
  returnTo: z.object({ what: z.string(), fingerprint: z.string().min(1) }).optional(),
  digest: z.string(),
  /**
   * `rekey request --key`: the requester's signature over the digest and their principal (see
   * requester.ts); absent in an unsigned request. Not covered by the digest (it signs it).
   */
  requesterSignature: z.string().min(1).optional(),
  approvals: z.array(approvalSchema),
});

export type Approval = z.infer<typeof approvalSchema>;
export type ChangeRequest = z.infer<typeof requestSchema>;

/** The fields a request's digest covers (everything an approver is shown). */
export type RequestFields = Omit<ChangeRequest, 'version' | 'digest' | 'approvals' | 'requesterSignature'>;

/**
 * SHA-256 (hex) of the canonical JSON of a request's fields: keys in a fixed order, `keys` sorted,
 * absent optional fields as null. This hex string is the message approvers sign.
 *
 * @example
 * requestDigest(request) === request.digest; // false once anyone edited the request
 */
export function requestDigest(r: RequestFields): string {
  const bound = r.stackId !== undefined || r.envFile !== undefined || r.host !== undefined;
  const canonical = {
    v: `rekey-request-v${REQUEST_VERSION}`,
    breakGlass: r.breakGlass ?? null,
    created: r.created,
    expires: r.expires,
    id: r.id,
    keys: [...r.keys].sort(),
    reason: r.reason ?? null,
    requester: r.requester,
    stack: r.stack,
    ticket: r.ticket ?? null,
    trigger: r.trigger,
    // Bound to one stack: its id, env file and host (requests of older versions have none).
    ...(bound
      ? {
          v: 'rekey-request-v2',
          stackId: r.stackId ?? null,
          envFile: r.envFile ?? null,
          host: r.host ?? null,
        }
      : {}),
    // A rollback request's values (absent otherwise, so older digests are unchanged).
    ...(r.returnTo !== undefined
      ? { returnTo: { what: r.returnTo.what, fingerprint: r.returnTo.fingerprint } }
      : {}),
  };
  return sha256(JSON.stringify(canonical));
}

/**
 * A new request id: `req-YYYYMMDD-` and 6 random hex digits.
 *
 * @example
 * newRequestId(new Date('2026-11-25T10:00:00Z')); // 'req-20261125-3fa2c1'
 */
export function newRequestId(now: Date): string {
  return `req-${now.toISOString().slice(0, 10).replace(/-/g, '')}-${randomBytes(3).toString('hex')}`;
}

/** The folder holding a stack's requests. */
export function requestsDir(loaded: LoadedConfig): string {
  return path.join(loaded.stateDir, 'requests');
}

/** Builds a request (digest included, no approvals yet). */
export function buildRequest(fields: RequestFields): ChangeRequest {
  const f: RequestFields = { ...fields, keys: [...fields.keys] };
  return { version: REQUEST_VERSION, ...f, digest: requestDigest(f), approvals: [] };
}

/** Writes a new request file (never over an existing one); returns its path. */
export async function saveNewRequest(loaded: LoadedConfig, request: ChangeRequest): Promise<string> {
  await claimStackState(loaded);
  const dir = requestsDir(loaded);
  await ensurePrivateDir(dir);
  const file = path.join(dir, `${request.id}.json`);
  if (!(await writeFileExclusive(file, `${JSON.stringify(request, null, 2)}\n`, 0o600))) {
    throw new RekeyError('ERR_IO', `a request ${request.id} already exists`, {
      hint: 'Run the command again.',
    });
  }
  return file;
}

/** Replaces a request file atomically (approvals added). */
export async function saveRequest(file: string, request: ChangeRequest): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(request, null, 2)}\n`, { mode: 0o600 });
}

export interface LoadedRequest {
  readonly request: ChangeRequest;
  readonly file: string;
}

/**
 * Reads a request by id (from the requests folder) or by path (a copy passed around for approval).
 * Throws ERR_REQUEST_NOT_FOUND when there is none, ERR_APPROVAL_INVALID when it is not a request.
 *
 * @example
 * const { request } = await loadRequest(loaded, 'req-20261125-3fa2c1');
 */
export async function loadRequest(loaded: LoadedConfig, ref: string): Promise<LoadedRequest> {
  const byId =
    ID.test(ref) && !ref.endsWith('.json') ? path.join(requestsDir(loaded), `${ref}.json`) : undefined;
  const file = byId ?? path.resolve(ref);
  const text = await readIfExists(file);
  if (text === undefined) throw new RekeyError('ERR_REQUEST_NOT_FOUND', `no change request ${ref}`);
  return { request: parseRequest(text, ref), file };
}

export function parseRequest(text: string, ref: string): ChangeRequest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new RekeyError('ERR_APPROVAL_INVALID', `change request ${ref} is not valid JSON (edited by hand?)`);
  }
  const parsed = requestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new RekeyError(
      'ERR_APPROVAL_INVALID',
      `change request ${ref} is malformed (${issue ? `${issue.path.join('.') || 'top level'}: ${issue.message}` : 'unknown'})`,
    );
  }
  return parsed.data;
}

/** Every request file of the stack, oldest first (unreadable ones skipped). */
export async function listRequests(loaded: LoadedConfig): Promise<LoadedRequest[]> {
  const dir = requestsDir(loaded);
  const names = await fs.readdir(dir).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return [] as string[];
    throw ioError('read', dir, e);
  });
  const out: LoadedRequest[] = [];
  for (const name of names.filter((n) => n.endsWith('.json')).sort()) {
    const file = path.join(dir, name);
    try {
      out.push({ request: parseRequest((await readIfExists(file)) ?? '', name), file });
    } catch {
      // a damaged file is reported by `rekey requests` through loadRequest, not here
    }
  }
  return out.sort((a, b) => (a.request.created < b.request.created ? -1 : 1));
}

/** Who used a request, and for which rotation (the `.used` marker). */
export interface RequestUse {
  readonly time: string;
  readonly operator: string;
  readonly host: string;
  readonly rotationId?: string;
}

function usedFile(loaded: LoadedConfig, id: string): string {
  return path.join(requestsDir(loaded), `${id}.used`);
}

/**
 * Claims a request for one rotation: creates its `.used` marker exclusively. False when it was used.
 *
 * @example
 * if (!(await claimRequest(loaded, id, use))) throw new RekeyError('ERR_APPROVAL_INVALID', 'already used');
 */
export async function claimRequest(loaded: LoadedConfig, id: string, use: RequestUse): Promise<boolean> {
  await ensurePrivateDir(requestsDir(loaded));
  return writeFileExclusive(usedFile(loaded, id), `${JSON.stringify(use, null, 2)}\n`, 0o600);
}

/**
 * Gives a claimed request back, for a rotation that stopped before it changed anything.
 *
 * @example
 * await releaseRequest(loaded, id);
 */
export async function releaseRequest(loaded: LoadedConfig, id: string): Promise<void> {
  await removeDurably(usedFile(loaded, id));
}

/** Notes the rotation id on a claimed request (known only once the rotation has begun). */
export async function noteRotation(loaded: LoadedConfig, id: string, rotationId: string): Promise<void> {
  const use = await requestUse(loaded, id);
  if (use === undefined || use.rotationId === rotationId) return;
  await writeFileAtomic(usedFile(loaded, id), `${JSON.stringify({ ...use, rotationId }, null, 2)}\n`, {
    mode: 0o600,
  });
}

/** The `.used` marker of a request, or undefined when it was never used. */
export async function requestUse(loaded: LoadedConfig, id: string): Promise<RequestUse | undefined> {
  if (!ID.test(id)) return undefined;
  const text = await readIfExists(usedFile(loaded, id));
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as RequestUse;
  } catch {
    return { time: 'unknown', operator: 'unknown', host: 'unknown' };
  }
}

/**
 * When a request stops being usable: its `expires`, capped at its creation plus `maxAge` (the config's
 * `approvals.expiry` now), so a request written with a far expiry still lapses. NaN when unreadable.
 *
 * @example
 * new Date(expiresAt(request, ms('7d'))).toISOString();
 */
export function expiresAt(request: ChangeRequest, maxAge?: number): number {
  const t = Date.parse(request.expires);
  if (maxAge === undefined) return t;
  return Math.min(t, Date.parse(request.created) + maxAge);
}

/** True when the request's time window (capped at creation + `maxAge` when given) has passed. */
export function isExpired(request: ChangeRequest, now: Date, maxAge?: number): boolean {
  const t = expiresAt(request, maxAge);
  return Number.isNaN(t) || t <= now.getTime();
}
