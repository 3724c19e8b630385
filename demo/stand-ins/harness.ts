/**
 * Stand-in plumbing, for tests and the demo: the HTTP server every stand-in (Vault KV v2, SSM,
 * Secrets Manager) runs on, its request log (what the canary scans read), the faults it injects on
 * demand and the small control API under `/__stand-in/` that drives them from another process.
 *
 * Control API (never part of the real services' APIs):
 * - `POST /__stand-in/faults` `{"kind":"throttle","op":"PutParameter","count":1,"after":0}` queues a
 *   fault (`after`: how many matching requests pass first);
 *   `DELETE /__stand-in/faults` clears them.
 * - `POST /__stand-in/latency` `{"ms":200}` delays every answer.
 * - `GET /__stand-in/log` the request log as JSON.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Largest request body read (Vault and AWS refuse far smaller secrets anyway). */
export const MAX_BODY_BYTES = 1024 * 1024;

/**
 * What a stand-in can be told to do to the next matching request:
 * `conflict` (a CAS mismatch: Vault's 400), `throttle` (AWS ThrottlingException, Vault's 429),
 * `error500` (an internal error), `denied` (access denied), `drop` (the connection is closed
 * without an answer, after the request took effect: a lost response).
 */
export type FaultKind = 'conflict' | 'throttle' | 'error500' | 'denied' | 'drop';

export interface Fault {
  readonly kind: FaultKind;
  /** The operation it hits (`PutParameter`, `vault.write`, ...); any write when absent. */
  readonly op?: string;
  /** How many requests it hits (default 1). */
  readonly count?: number;
  /** How many matching requests it lets through first (default 0): "fail from the second put on". */
  readonly after?: number;
}

/** One request as the stand-in saw it; the body is kept verbatim (credentials excepted). */
export interface LoggedRequest {
  readonly at: number;
  readonly method: string;
  readonly path: string;
  /** The operation (`GetParameter`, `vault.read`, ...). */
  readonly op: string;
  /** Whether the operation writes a stored value (the only requests that may carry one). */
  readonly write: boolean;
  readonly status: number;
  readonly body: string;
  /** The fault injected into it, if any. */
  readonly fault?: FaultKind;
}

/** Queued faults and added latency; shared by a stand-in's handlers and its control API. */
export class Faults {
  private queue: { kind: FaultKind; op?: string; left: number; skip: number }[] = [];
  latencyMs = 0;

  add(fault: Fault): void {
    const left = fault.count ?? 1;
    if (!Number.isInteger(left) || left < 1) throw new RangeError('fault count must be a positive integer');
    const skip = fault.after ?? 0;
    if (!Number.isInteger(skip) || skip < 0) throw new RangeError('fault after must be a whole number');
    this.queue.push({ kind: fault.kind, left, skip, ...(fault.op === undefined ? {} : { op: fault.op }) });
  }

  clear(): void {
    this.queue = [];
  }

  /** Takes the first queued fault matching `op` (a fault without `op` matches writes only). */
  take(op: string, write: boolean): FaultKind | undefined {
    const i = this.queue.findIndex((f) => (f.op === undefined ? write : f.op === op));
    const f = this.queue[i];
    if (f === undefined) return undefined;
    if (f.skip > 0) {
      f.skip -= 1;
      return undefined;
    }
    f.left -= 1;
    if (f.left === 0) this.queue.splice(i, 1);
    return f.kind;
  }
}

/** What a stand-in's handler returns: a status, a JSON body (or none), extra headers. */
export interface Answer {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

/** A request as a handler sees it. */
export interface StandInRequest {
  readonly method: string;
  readonly url: URL;
  readonly headers: IncomingMessage['headers'];
  readonly body: Buffer;
  /** Parsed JSON body, or undefined when empty or not JSON. */
  readonly json: unknown;
}

/** What a handler reports for the log and the faults before it runs. */
export interface Classified {
  readonly op: string;
  readonly write: boolean;
  /** The body as logged (default: verbatim). Login bodies are replaced: they hold credentials. */
  readonly loggedBody?: string;
}

export interface Handler {
  classify(req: StandInRequest): Classified;
  /** The answer to an injected fault (per service: Vault's error bodies, AWS's `__type`). */
  fault(kind: Exclude<FaultKind, 'drop'>, op: string): Answer;
  handle(req: StandInRequest, op: string): Answer | Promise<Answer>;
  /** Content type of JSON answers. */
  readonly contentType: string;
  /** The stand-in's own control routes under `/__stand-in/` (after the shared ones); undefined: none matched. */
  control?(req: StandInRequest): Answer | undefined;
}

/** A running stand-in. */
export interface RunningStandIn {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  readonly port: number;
  readonly faults: Faults;
  /** Every request since start (or the last {@link RunningStandIn.clearLog}). */
  log(): readonly LoggedRequest[];
  clearLog(): void;
  close(): Promise<void>;
}

function parseJson(body: Buffer): unknown {
  if (body.length === 0) return undefined;
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size <= MAX_BODY_BYTES) chunks.push(chunk as Buffer);
  }
  return size > MAX_BODY_BYTES ? undefined : Buffer.concat(chunks);
}

function send(res: ServerResponse, answer: Answer, contentType: string): void {
  const text = answer.body === undefined ? '' : JSON.stringify(answer.body);
  res.writeHead(answer.status, {
    ...(text === '' ? {} : { 'content-type': contentType }),
    'content-length': Buffer.byteLength(text),
    ...answer.headers,
  });
  res.end(text);
}

async function control(
  req: StandInRequest,
  faults: Faults,
  log: LoggedRequest[],
  handler: Handler,
): Promise<Answer> {
  const route = `${req.method} ${req.url.pathname}`;
  const body = (req.json ?? {}) as Record<string, unknown>;
  switch (route) {
    case 'POST /__stand-in/faults': {
      const kinds: readonly FaultKind[] = ['conflict', 'throttle', 'error500', 'denied', 'drop'];
      if (!kinds.includes(body.kind as FaultKind))
        return { status: 400, body: { error: 'unknown fault kind' } };
      faults.add({
        kind: body.kind as FaultKind,
        ...(typeof body.op === 'string' ? { op: body.op } : {}),
        ...(typeof body.count === 'number' ? { count: body.count } : {}),
        ...(typeof body.after === 'number' ? { after: body.after } : {}),
      });
      return { status: 204 };
    }
    case 'DELETE /__stand-in/faults':
      faults.clear();
      return { status: 204 };
    case 'POST /__stand-in/latency':
      faults.latencyMs = typeof body.ms === 'number' && body.ms >= 0 ? body.ms : 0;
      return { status: 204 };
    case 'GET /__stand-in/log':
      return { status: 200, body: log };
    default:
      return handler.control?.(req) ?? { status: 404, body: { error: 'no such control route' } };
  }
}

/**
 * Starts an HTTP server for `handler` on 127.0.0.1 (a free port unless `port` is given). Requests are
 * handled one at a time, as a single-node service would order them.
 *
 * @example
 * const s = await serveStandIn(new VaultHandler(state));
 * s.faults.add({ kind: 'conflict', op: 'vault.write' });
 */
export async function serveStandIn(
  handler: Handler,
  options: { host?: string; port?: number } = {},
): Promise<RunningStandIn> {
  const faults = new Faults();
  let log: LoggedRequest[] = [];
  let queue: Promise<unknown> = Promise.resolve();

  const server = createServer((req, res) => {
    void (async () => {
      const raw = await readBody(req);
      const url = new URL(req.url ?? '/', 'http://stand-in');
      if (raw === undefined) {
        send(res, { status: 413, body: { errors: ['request body too large'] } }, 'application/json');
        return;
      }
      const request: StandInRequest = {
        method: req.method ?? 'GET',
        url,
        headers: req.headers,
        body: raw,
        json: parseJson(raw),
      };
      if (url.pathname.startsWith('/__stand-in/')) {
        send(res, await control(request, faults, log, handler), 'application/json');
        return;
      }
      const run = async () => {
        if (faults.latencyMs > 0) await new Promise((r) => setTimeout(r, faults.latencyMs));
        const { op, write, loggedBody } = handler.classify(request);
        const fault = faults.take(op, write);
        const answer =
          fault === undefined || fault === 'drop'
            ? await handler.handle(request, op)
            : handler.fault(fault, op);
        log.push({
          at: Date.now(),
          method: request.method,
          path: url.pathname + url.search,
          op,
          write,
          status: fault === 'drop' ? 0 : answer.status,
          body: loggedBody ?? raw.toString('utf8'),
          ...(fault === undefined ? {} : { fault }),
        });
        return { answer, fault };
      };
      const job = queue.then(run, run);
      queue = job.catch(() => {});
      const { answer, fault } = await job;
      if (fault === 'drop') {
        res.socket?.destroy();
        return;
      }
      send(
        res,
        { ...answer, headers: { 'x-request-id': randomUUID(), ...answer.headers } },
        handler.contentType,
      );
    })().catch(() => {
      if (!res.headersSent)
        send(res, { status: 500, body: { errors: ['stand-in failure'] } }, 'application/json');
      else res.destroy();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}`,
    port: address.port,
    faults,
    log: () => log,
    clearLog: () => {
      log = [];
    },
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await queue;
    },
  };
}
