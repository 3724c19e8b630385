/**
 * `npm run bench -- settle [--runs 10]`: how soon, and how steadily, the demo app answers with a new
 * secret once its deploy command returns — the measurement behind `verifyPolicy.interval`'s default
 * (issue 17). A verify check's second success guards against a check that passes once and then fails
 * (a deploy that returns while an old worker still answers, an app still reloading, a flapping
 * service). So, `--runs` times: write a new JWT_SECRET and API_SECRET_KEY to the stack's env file
 * (no previous key: the old one must be refused), run `scripts/deploy.sh deploy`, and from the moment
 * it returns poll, every ~2 ms for 3 s, the demo's verify checks (App Health 200; Auth: the login's
 * token verifies with the NEW JWT secret) plus the API key both ways (NEW key 200, OLD key 401/403).
 * Per run: the first round where every check passed, and every round that failed AFTER that (a flip).
 */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { jwtVerify } from 'jose';
import { describeMachine, machineLine } from './machine.js';
import { say, table, writeResults } from './report.js';
import { setUpBenchStack } from './stack.js';
import { percentile, round, summarize } from './stats.js';

export interface SettleOptions {
  readonly runs: number;
}

const POLL_EVERY_MS = 2;
const WATCH_MS = 3000;

interface Keys {
  readonly jwt: string;
  readonly apiKey: string;
  readonly oldApiKey: string;
  readonly userPassword: string;
}

interface Check {
  readonly name: string;
  run(appUrl: string, keys: Keys): Promise<boolean>;
}

const CHECKS: readonly Check[] = [
  {
    name: 'App Health (200)',
    async run(appUrl) {
      const res = await fetch(`${appUrl}/api/health`);
      await res.body?.cancel();
      return res.status === 200;
    },
  },
  {
    name: 'Auth (token verifies with the new JWT secret)',
    async run(appUrl, keys) {
      const res = await fetch(`${appUrl}/api/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'analyst', password: keys.userPassword }),
      });
      if (res.status < 200 || res.status > 299) {
        await res.body?.cancel();
        return false;
      }
      const token = ((await res.json().catch(() => ({}))) as Record<string, unknown>).token;
      if (typeof token !== 'string') return false;
      return jwtVerify(token, new TextEncoder().encode(keys.jwt)).then(
        () => true,
        () => false,
      );
    },
  },
  {
    name: 'API, new key (200)',
    async run(appUrl, keys) {
      const res = await fetch(`${appUrl}/api/reports`, { headers: { 'x-api-key': keys.apiKey } });
      await res.body?.cancel();
      return res.status === 200;
    },
  },
  {
    name: 'API, old key (401/403)',
    async run(appUrl, keys) {
      const res = await fetch(`${appUrl}/api/reports`, { headers: { 'x-api-key': keys.oldApiKey } });
      await res.body?.cancel();
      return res.status === 401 || res.status === 403;
    },
  },
];

interface Sample {
  readonly check: number;
  /** ms from the deploy command's return (negative: while it ran). */
  readonly at: number;
  readonly ok: boolean;
  readonly ms: number;
}

interface Flips {
  /** ms (from the deploy's return) when every check had passed once; null: never. */
  readonly firstPassMs: number | null;
  /** Failures of a check after its own first pass. */
  readonly flips: number;
  /** ms (from the deploy's return) of the last such failure; null: none. */
  readonly lastFlipMs: number | null;
  /** The longest span, over the checks, from a check's first pass to its last failure after it. */
  readonly windowMs: number | null;
  readonly flipped: string[];
}

interface SettleRun {
  readonly deployMs: number;
  /** Samples per check after the deploy returned. */
  readonly samples: number[];
  /** From the deploy's return: what verify sees. */
  readonly after: Flips;
  /** While the deploy ran (workers replaced one by one): what a deploy that returned early would show. */
  readonly during: Flips;
}

/** First pass and flips of the samples in [from, to). */
function flipsOf(samples: readonly Sample[], from: number, to: number): Flips {
  let firstPassMs: number | null = Number.NEGATIVE_INFINITY;
  let flips = 0;
  let lastFlipMs: number | null = null;
  let windowMs: number | null = null;
  const flipped: string[] = [];
  CHECKS.forEach((check, k) => {
    const mine = samples
      .filter((x) => x.check === k && x.at >= from && x.at < to)
      .sort((a, b) => a.at - b.at);
    const first = mine.find((x) => x.ok);
    if (first === undefined) {
      firstPassMs = null;
      return;
    }
    if (firstPassMs !== null) firstPassMs = Math.max(firstPassMs, first.at);
    const fails = mine.filter((x) => !x.ok && x.at > first.at);
    const last = fails.at(-1);
    if (last === undefined) return;
    flips += fails.length;
    flipped.push(check.name);
    lastFlipMs = Math.max(lastFlipMs ?? Number.NEGATIVE_INFINITY, last.at);
    windowMs = Math.max(windowMs ?? 0, last.at - first.at);
  });
  const r = (v: number | null) => (v === null ? null : round(v));
  return { firstPassMs: r(firstPassMs), flips, lastFlipMs: r(lastFlipMs), windowMs: r(windowMs), flipped };
}

const setKeys = (text: string, values: Record<string, string>) =>
  text
    .split('\n')
    .map((line) => {
      const key = line.slice(0, line.indexOf('='));
      return line.includes('=') && key in values ? `${key}=${values[key]}` : line;
    })
    .join('\n');

/** The env file's value of `key` (throws when missing). */
async function envValue(file: string, key: string): Promise<string> {
  const line = (await readFile(file, 'utf8')).split('\n').find((l) => l.startsWith(`${key}=`));
  if (line === undefined) throw new Error(`settle: ${key} is not in the env file`);
  return line.slice(key.length + 1);
}

/**
 * @example
 * await benchSettle({ runs: 10 });
 */
export async function benchSettle(opts: SettleOptions): Promise<void> {
  const machine = await describeMachine();
  const stack = await setUpBenchStack({ alternating: false });
  const runs: SettleRun[] = [];
  const roundTrips = new Map<string, number[]>(CHECKS.map((c) => [c.name, []]));
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  try {
    if ((await stack.deployScript('deploy')) !== 0) throw new Error('the first deploy failed');
    const userPassword = await envValue(stack.envFile, 'DEMO_USER_PASSWORD');
    for (let i = 0; i < opts.runs; i++) {
      const oldApiKey = await envValue(stack.envFile, 'API_SECRET_KEY');
      const keys: Keys = {
        jwt: randomBytes(64).toString('base64url'),
        apiKey: randomBytes(32).toString('base64url'),
        oldApiKey,
        userPassword,
      };
      const text = await readFile(stack.envFile, 'utf8');
      await writeFile(
        stack.envFile,
        setKeys(text, {
          JWT_SECRET: keys.jwt,
          JWT_SECRET_PREVIOUS: '',
          API_SECRET_KEY: keys.apiKey,
          API_SECRET_KEY_PREVIOUS: '',
        }),
        { mode: 0o600 },
      );
      // Every check polls on its own loop (as verify runs them side by side), from the deploy's
      // start until WATCH_MS after it returned.
      const deployStarted = performance.now();
      let t0 = Number.POSITIVE_INFINITY;
      const samples: Sample[] = [];
      const pollers = CHECKS.map(async (c, k) => {
        while (performance.now() - t0 < WATCH_MS) {
          const started = performance.now();
          const ok = await c.run(stack.appUrl, keys).catch(() => false);
          const done = performance.now();
          samples.push({ check: k, at: started, ok, ms: done - started });
          const wait = POLL_EVERY_MS - (done - started);
          if (wait > 0) await sleep(wait);
        }
      });
      const code = await stack.deployScript('deploy');
      t0 = performance.now();
      await Promise.all(pollers);
      if (code !== 0) throw new Error(`deploy ${i + 1} failed`);
      const rel = samples.map((x) => ({ ...x, at: x.at - t0 }));
      for (const x of rel) if (x.at >= 0) roundTrips.get(CHECKS[x.check]?.name ?? '?')?.push(x.ms);
      const run: SettleRun = {
        deployMs: round(t0 - deployStarted),
        samples: CHECKS.map((_, k) => rel.filter((x) => x.check === k && x.at >= 0).length),
        after: flipsOf(rel, 0, WATCH_MS),
        during: flipsOf(rel, Number.NEGATIVE_INFINITY, 0),
      };
      runs.push(run);
      say(
        `  run ${i + 1}: deploy ${Math.round(run.deployMs)} ms; after: first pass ${run.after.firstPassMs ?? 'never'} ms, ${run.after.flips} flips${run.after.lastFlipMs === null ? '' : ` (last at ${run.after.lastFlipMs} ms: ${run.after.flipped.join(', ')})`}; during: first pass ${run.during.firstPassMs ?? 'never'} ms, ${run.during.flips} flips, window ${run.during.windowMs ?? '-'} ms (${run.during.flipped.join(', ')})`,
      );
      if (run.after.firstPassMs === null)
        throw new Error(`run ${i + 1}: the checks never all passed in ${WATCH_MS} ms`);
    }
  } finally {
    await stack.tearDown();
  }
  const trips = Object.fromEntries(
    [...roundTrips].map(([name, ms]) => {
      const s = summarize(ms);
      return [name, { count: s.count, p50: round(s.p50), p99: round(s.p99), max: round(s.max) }];
    }),
  );
  const maxOf = (values: ReadonlyArray<number | null>) => {
    const xs = values.filter((v): v is number => v !== null);
    return xs.length === 0 ? null : round(Math.max(...xs));
  };
  const side = (pick: (r: SettleRun) => Flips) => ({
    firstPassMsP50: round(
      percentile(
        runs.map((r) => pick(r).firstPassMs ?? Number.NaN),
        50,
      ),
    ),
    firstPassMsMax: maxOf(runs.map((r) => pick(r).firstPassMs)),
    runsWithFlips: runs.filter((r) => pick(r).flips > 0).length,
    flips: runs.reduce((a, r) => a + pick(r).flips, 0),
    lastFlipMsMax: maxOf(runs.map((r) => pick(r).lastFlipMs)),
    windowMsMax: maxOf(runs.map((r) => pick(r).windowMs)),
  });
  const summary = {
    runs: runs.length,
    deployMsP50: round(
      percentile(
        runs.map((r) => r.deployMs),
        50,
      ),
    ),
    after: side((r) => r.after),
    during: side((r) => r.during),
    roundTrips: trips,
  };
  const none = (v: number | null) => (v === null ? 'none' : `${v} ms`);
  const a = summary.after;
  const d = summary.during;
  const md = [
    '# settle: how soon and how steadily the demo app answers with a new secret after its deploy',
    '',
    machineLine(machine),
    '',
    `${runs.length} deploys (\`scripts/deploy.sh deploy\`, the app under its cluster runner, workers replaced one by one) each of a new JWT_SECRET and API_SECRET_KEY (no previous key). Four checks, each polled on its own loop every ~${POLL_EVERY_MS} ms (after its answer) from the deploy's start until ${WATCH_MS / 1000} s after it returned: App Health 200 and Auth (the login's token verifies with the NEW JWT secret) — the demo's verify checks — plus the reports API with the NEW key 200 and with the OLD key 401/403. First pass: when every check had passed once. A flip: a check failing after its own first pass. Times in ms from the deploy command's return; "during the deploy" is what a deploy command that returned early (before its rollout ended) would have shown verify.`,
    '',
    table(
      ['measure', 'after the deploy returned', 'during the deploy (negative: before it returned)'],
      [
        [
          'first pass, p50 / max',
          `${a.firstPassMsP50} / ${a.firstPassMsMax ?? '-'} ms`,
          `${d.firstPassMsP50} / ${d.firstPassMsMax ?? '-'} ms`,
        ],
        [
          'flips after a pass: runs with any / failed checks',
          `${a.runsWithFlips} / ${a.flips}`,
          `${d.runsWithFlips} / ${d.flips}`,
        ],
        ['last flip, max', none(a.lastFlipMsMax), none(d.lastFlipMsMax)],
        ["a check's first pass → its last flip, max", none(a.windowMsMax), none(d.windowMsMax)],
      ],
    ),
    '',
    table(
      ['measure', 'value'],
      [
        ['runs', summary.runs],
        ['deploy command, p50', `${summary.deployMsP50} ms`],
        ...Object.entries(trips).map(([name, s]) => [
          `round trip: ${name}, p50 / p99 (${s.count} samples)`,
          `${s.p50} / ${s.p99} ms`,
        ]),
      ],
    ),
    '',
    table(
      [
        'run',
        'deploy ms',
        'after: first pass',
        'after: flips',
        'during: first pass',
        'during: flips',
        'during: window ms',
        'flipped during',
      ],
      runs.map((r, i) => [
        i + 1,
        Math.round(r.deployMs),
        r.after.firstPassMs ?? 'never',
        r.after.flips,
        r.during.firstPassMs ?? 'never',
        r.during.flips,
        r.during.windowMs ?? '',
        r.during.flipped.join(', '),
      ]),
    ),
    '',
  ].join('\n');
  const files = await writeResults('settle', { machine, options: opts, summary, runs }, md);
  say(`wrote ${files.join(', ')}`);
}
