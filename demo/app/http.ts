/**
 * HTTP plumbing for the demo app: JSON bodies in and out. Nothing here logs.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Largest request body read. */
export const MAX_BODY_BYTES = 16 * 1024;

/** A JSON answer. */
export interface Reply {
  status: number;
  body: unknown;
}

/**
 * Reads a JSON object body; undefined when it is not one or exceeds {@link MAX_BODY_BYTES}.
 *
 * @example
 * const body = await readJsonObject(req); // { username: 'analyst', password: '…' }
 */
export async function readJsonObject(req: IncomingMessage): Promise<Record<string, unknown> | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size <= MAX_BODY_BYTES) chunks.push(chunk as Buffer);
  }
  if (size > MAX_BODY_BYTES) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Writes a JSON reply, never cached.
 *
 * @example
 * send(res, { status: 200, body: { status: 'ok' } });
 */
export function send(res: ServerResponse, reply: Reply): void {
  const text = JSON.stringify(reply.body);
  res.writeHead(reply.status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Cache-Control': 'no-store',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** A `401` with a reason code. */
export const unauthorized = (error: string): Reply => ({ status: 401, body: { error } });

/**
 * The token of an `Authorization: Bearer <token>` header, or undefined.
 *
 * @example
 * bearer(req.headers.authorization); // 'eyJhbGciOi…'
 */
export function bearer(header: string | undefined): string | undefined {
  const match = /^Bearer +(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}
