/**
 * The load generator for the zero-downtime benchmark, run as its own process (`fork`): an open-loop
 * schedule of about `rate` requests per second for `seconds`, round-robin over
 *   GET /api/health, GET /api/reports (X-API-Key), GET /api/auth/me (Bearer, one of the tokens)
 * on keep-alive connections, each request timed and classified. It never retries: a request that
 * fails counts as failed, as a user would see it.
 *
 * Protocol (IPC, so no key or token ever reaches argv or the environment): the parent sends
 * `{ type: 'start', url, apiKey, tokens, rate, seconds }`; we answer `{ type: 'started', at }`. The
 * load runs for at least `seconds` and until the parent sends `{ type: 'release' }` (so it can
 * watch a while after a slow rotation); then we answer `{ type: 'done', requests }` with one record
 * per request (no secret in it). `{ type: 'credentials', apiKey, tokens }` switches the API key and
 * tokens of the requests sent from then on (a compromise rotation revokes the old ones); each record
 * says which generation it used (0: the start's, 1: the first switch's…).
 */
import http from 'node:http';

export interface LoadStart {
  type: 'start';
  url: string;
  apiKey: string;
  tokens: string[];
  rate: number;
  seconds: number;
}

export interface LoadCredentials {
  type: 'credentials';
  apiKey: string;
  tokens: string[];
}

export type Endpoint = 'health' | 'reports' | 'me';

/** One request: when it was sent and answered (epoch ms), and how it ended. */
export interface RequestRecord {
  endpoint: Endpoint;
  /** For `me`: which token (index into `tokens`). */
  token?: number;
  sentAt: number;
  doneAt: number;
  /** HTTP status, or 0 when no answer came. */
  status: number;
  /** Connection error code (ECONNRESET, ECONNREFUSED, timeout…) when status is 0. */
  error?: string;
  /** The credentials' generation (see LoadCredentials); absent for 0. */
  gen?: number;
}

const TIMEOUT_MS = 5_000;
const now = () => performance.timeOrigin + performance.now();

function request(
  agent: http.Agent,
  url: URL,
  headers: Record<string, string>,
): Promise<{ status: number; error?: string }> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent, headers, timeout: TIMEOUT_MS }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
      res.on('error', (err: NodeJS.ErrnoException) => resolve({ status: 0, error: err.code ?? err.message }));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ status: 0, error: err.code ?? err.message }));
  });
}

async function run(start: LoadStart): Promise<RequestRecord[]> {
  // `timeout` as Node's own global agent has it: only then does the agent honour the server's
  // `Keep-Alive: timeout=5` and drop an idle connection before the server does. Without it, a request
  // sent on a connection at the instant the server closes it for idleness fails with ECONNRESET (a
  // client-side keep-alive race, not the app: RFC 9112 §9.3.1 leaves the retry to the client).
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64, timeout: TIMEOUT_MS });
  const base = new URL(start.url);
  const creds = { apiKey: start.apiKey, tokens: start.tokens, gen: 0 };
  const targets: Array<{ endpoint: Endpoint; url: URL; headers: (i: number) => Record<string, string> }> = [
    { endpoint: 'health', url: new URL('/api/health', base), headers: () => ({}) },
    {
      endpoint: 'reports',
      url: new URL('/api/reports', base),
      headers: () => ({ 'x-api-key': creds.apiKey }),
    },
    {
      endpoint: 'me',
      url: new URL('/api/auth/me', base),
      headers: (i) => ({ authorization: `Bearer ${creds.tokens[i % creds.tokens.length] ?? ''}` }),
    },
  ];
  const records: RequestRecord[] = [];
  const inFlight = new Set<Promise<void>>();
  const interval = 1000 / start.rate;
  const minimum = Math.round(start.rate * start.seconds);
  let released = false;
  process.on('message', (m: { type?: string; apiKey?: string; tokens?: string[] }) => {
    if (m.type === 'release') released = true;
    if (m.type === 'credentials' && m.apiKey !== undefined && m.tokens !== undefined) {
      Object.assign(creds, { apiKey: m.apiKey, tokens: m.tokens, gen: creds.gen + 1 });
    }
  });
  const t0 = now();
  process.send?.({ type: 'started', at: t0 });
  let meCount = 0;
  for (let n = 0; n < minimum || !released; n++) {
    // Open loop: request n is due at t0 + n * interval, whatever happened to the earlier ones.
    const due = t0 + n * interval;
    const wait = due - now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    // Behind schedule (1,000 req/s on a busy machine): still let the answers in, or their times
    // would include the time this loop kept the event loop.
    else await new Promise((r) => setImmediate(r));
    const target = targets[n % targets.length];
    if (target === undefined) continue;
    const token = target.endpoint === 'me' ? meCount++ % creds.tokens.length : undefined;
    const gen = creds.gen;
    const sentAt = now();
    const p = request(agent, target.url, target.headers(token ?? 0)).then((r) => {
      records.push({
        endpoint: target.endpoint,
        ...(token === undefined ? {} : { token }),
        sentAt,
        doneAt: now(),
        status: r.status,
        ...(r.error === undefined ? {} : { error: r.error }),
        ...(gen === 0 ? {} : { gen }),
      });
      inFlight.delete(p);
    });
    inFlight.add(p);
  }
  await Promise.all(inFlight);
  agent.destroy();
  return records;
}

// Never outlive the benchmark that started us.
process.on('disconnect', () => process.exit(0));

process.once('message', (m: LoadStart) => {
  if (m.type !== 'start') return;
  run(m).then(
    (requests) => process.send?.({ type: 'done', requests }, () => process.exit(0)),
    (err: unknown) => process.send?.({ type: 'error', message: String(err) }, () => process.exit(1)),
  );
});
