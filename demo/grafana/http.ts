/**
 * HTTP plumbing for the Grafana stand-in: request bodies, Grafana's two JSON error shapes, basic auth
 * parsed as Go's `Request.BasicAuth` does, and cookies. Nothing here logs anything.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Largest request body read; anything bigger is refused as bad request data. */
export const MAX_BODY_BYTES = 64 * 1024;

/**
 * Reads the whole request body, or undefined when it exceeds {@link MAX_BODY_BYTES}.
 *
 * @example
 * const body = await readBody(req);
 */
export async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > MAX_BODY_BYTES) tooLarge = true;
    else chunks.push(buf);
  }
  return tooLarge ? undefined : Buffer.concat(chunks);
}

/**
 * Parses a JSON object body; undefined when it is not a JSON object (Grafana's `web.Bind` fails).
 *
 * @example
 * const cmd = parseJsonObject(body); // { oldPassword: '...', ... } or undefined
 */
export function parseJsonObject(body: Buffer | undefined): Record<string, unknown> | undefined {
  if (body === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(body.toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** Reads a string field the way Go's JSON decoding into a `string` does: absent or null is "". */
export function stringField(obj: Record<string, unknown>, key: string): string | undefined {
  const value = obj[key];
  if (value === undefined || value === null) return '';
  return typeof value === 'string' ? value : undefined;
}

/** A JSON answer: status, body and extra headers. */
export interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/**
 * Writes a reply as Grafana does (`Content-Type: application/json`, no caching).
 *
 * @example
 * send(res, { status: 200, body: { message: 'User password changed' } });
 */
export function send(res: ServerResponse, reply: Reply): void {
  const text = JSON.stringify(reply.body);
  res.writeHead(reply.status, {
    'Content-Type': 'application/json',
    'Cache-Control': 'no-store',
    'Content-Length': Buffer.byteLength(text),
    ...reply.headers,
  });
  res.end(text);
}

/**
 * An `errutil` error as Grafana's `response.Err` renders it (sorted keys, empty trace id).
 *
 * @example
 * apiError(401, 'password-auth.failed', 'Invalid username or password');
 */
export function apiError(status: number, messageId: string, message: string): Reply {
  return { status, body: { message, messageId, statusCode: status, traceID: '' } };
}

/**
 * A plain `response.Error(status, message, err)`: `{"message": ...}`, plus `traceID` when Grafana had
 * an underlying error to log (the error text itself is hidden in production mode).
 *
 * @example
 * plainError(500, 'Failed to update user password', true);
 */
export function plainError(status: number, message: string, withUnderlyingError: boolean): Reply {
  return { status, body: withUnderlyingError ? { message, traceID: '' } : { message } };
}

/** Username and password from an `Authorization: Basic` header. */
export interface BasicCredentials {
  username: string;
  password: string;
}

/**
 * Parses basic auth like Go's `Request.BasicAuth`: scheme case-insensitive, strict standard base64,
 * split at the first colon. Undefined when the header is absent or malformed (then Grafana does not
 * treat the request as a basic-auth request at all).
 *
 * @example
 * parseBasicAuth('Basic YWRtaW46YWRtaW4='); // { username: 'admin', password: 'admin' }
 */
export function parseBasicAuth(header: string | undefined): BasicCredentials | undefined {
  if (header === undefined || header.length < 6 || header.slice(0, 6).toLowerCase() !== 'basic ')
    return undefined;
  const encoded = header.slice(6);
  if (encoded.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(encoded)) return undefined;
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/**
 * Returns the value of one cookie from a `Cookie` header.
 *
 * @example
 * cookieValue('a=1; grafana_session=abc', 'grafana_session'); // 'abc'
 */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
