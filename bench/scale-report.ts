/**
 * The scale benchmark's tables (bench/results/scale.md), apart from its run loop (bench/scale.ts): each
 * size beside the committed baseline (bench/baseline.ts), the marginal cost of a role between two
 * sizes, and issue 17's goals checked against the numbers.
 */
import { BASELINE_COMMIT } from './baseline.js';
import { type Machine, machineLine } from './machine.js';
import type { LoginCosts } from './pg-logins.js';
import { table } from './report.js';
import { round } from './stats.js';

/** One size's result, as bench/scale.ts records it in scale.json. */
export interface SizeResult {
  readonly roles: number;
  /** The series where the superuser sets the passwords (`admin`); else each role sets its own. */
  readonly admin?: boolean;
  /** Login attempts (accepted or refused) the server logged during the rotation, per role (absent in older results). */
  readonly loginsPerRole?: number;
  readonly runsMs: number[];
  readonly wallMs: number;
  readonly perRoleMs: number;
  readonly steps: number;
  readonly byPhase: Record<string, number>;
}

/** Issue 17's goals for one rotation of N PostgreSQL roles. */
export const SCALE_GOALS = { wallMsAt1000: 15_000, marginalMs: 10, ratio1000to100: 11 } as const;

/** ms per extra role from `a` to `b` (the slope between two sizes). */
export function marginalMs(a: SizeResult, b: SizeResult): number {
  return round((b.wallMs - a.wallMs) / (b.roles - a.roles));
}

const seconds = (ms: number) => `${round(ms / 1000)} s`;

/**
 * The markdown of scale.md. `baseline` is scale.json's results at {@link BASELINE_COMMIT}, when
 * there: sizes it has are printed beside the new ones.
 *
 * @example
 * const md = renderScale(machine, { runs: 3 }, results, (await baselineResults('scale'))?.results);
 */
export function renderScale(
  machine: Machine,
  opts: { readonly runs: number },
  all: readonly SizeResult[],
  baselineAll: readonly SizeResult[] | undefined,
  logins?: LoginCosts,
): string {
  const own = all.filter((r) => !r.admin);
  const admin = all.filter((r) => r.admin);
  return [
    renderSeries(
      machine,
      opts,
      own,
      baselineAll?.filter((r) => !r.admin),
    ),
    ...(admin.length > 0
      ? [
          '## With `admin`: the superuser sets the passwords',
          '',
          'The same roles, rotated again with `admin: { user: postgres }` on every secret: preflight checks the admin login once per server, the stages share a few admin connections (no login per role), the finishes one listing of the LOGIN roles.',
          '',
          renderSeries(machine, opts, admin, undefined, true),
        ]
      : []),
    ...(logins ? floor(logins, all) : []),
  ].join('\n');
}

/** What one login costs here, and the time the logins alone need at each series' largest size. */
function floor(logins: LoginCosts, all: readonly SizeResult[]): string[] {
  const lines = [
    '## The floor: PostgreSQL logins',
    '',
    "A login measured the way rekey logs in (a new connection, then closed; bench/pg-logins.ts): one after another, and 8 at a time (rekey's default concurrency) for the logins per second these cores allow. `trust` needs no password at all: its cost is the new server process alone.",
    '',
    table(
      ['login', 'ms each, one after another', 'logins per second, 8 at a time'],
      [
        ['SCRAM-SHA-256 (what rekey uses)', logins.scram.serialMs, logins.scram.perSecond8],
        ['trust (no authentication)', logins.trust.serialMs, logins.trust.perSecond8],
      ],
    ),
    '',
  ];
  const rows = [false, true].flatMap((admin) => {
    const r = all.filter((x) => !!x.admin === admin && x.loginsPerRole !== undefined).at(-1);
    if (r === undefined || r.loginsPerRole === undefined) return [];
    const seconds = (r.loginsPerRole * r.roles) / logins.scram.perSecond8;
    return [
      [
        `${r.roles} roles${admin ? ', admin' : ''}`,
        r.loginsPerRole,
        `${round(seconds)} s`,
        `${round(r.wallMs / 1000)} s`,
        `${Math.round((seconds * 1000 * 100) / r.wallMs)}%`,
      ],
    ];
  });
  if (rows.length > 0) {
    lines.push(
      table(['rotation', 'logins per role', 'the logins alone, at that rate', 'wall time', 'share'], rows),
      '',
      `A role needs at least one fresh login with its new password (\`test\`) and one refused with the old (verify): at ${logins.scram.perSecond8} logins per second, 1000 roles need ${round(2000 / logins.scram.perSecond8)} s for those two alone.`,
      '',
    );
  }
  return lines;
}

function renderSeries(
  machine: Machine,
  opts: { readonly runs: number },
  results: readonly SizeResult[],
  baseline: readonly SizeResult[] | undefined,
  sub = false,
): string {
  const old = (roles: number) => baseline?.find((b) => b.roles === roles);
  const dash = '—';
  const rows = results.map((r, i) => {
    const prev = results[i - 1];
    const before = old(r.roles);
    const beforePrev = prev && old(prev.roles);
    return [
      r.roles,
      seconds(r.wallMs),
      before ? seconds(before.wallMs) : dash,
      r.perRoleMs,
      before ? before.perRoleMs : dash,
      prev ? marginalMs(prev, r) : dash,
      before && beforePrev ? marginalMs(beforePrev, before) : dash,
      r.loginsPerRole ?? dash,
      r.steps,
      r.runsMs.join(', '),
    ];
  });
  // The marginal-cost row: one more role between consecutive sizes, now and at the baseline.
  const marginalRow = [
    '**marginal ms per role**',
    ...results.slice(1).map((r, i) => {
      const prev = results[i] as SizeResult;
      const before = old(r.roles);
      const beforePrev = old(prev.roles);
      const was = before && beforePrev ? ` (was ${marginalMs(beforePrev, before)})` : '';
      return `${prev.roles}→${r.roles}: **${marginalMs(prev, r)}**${was}`;
    }),
  ].join(' · ');

  const at = (roles: number) => results.find((r) => r.roles === roles);
  const r100 = at(100);
  const r1000 = at(1000);
  const goals: string[] = [];
  if (r1000) {
    goals.push(
      `1000 roles in ≤ ${SCALE_GOALS.wallMsAt1000 / 1000} s: ${r1000.wallMs <= SCALE_GOALS.wallMsAt1000 ? 'met' : 'NOT met'} (${seconds(r1000.wallMs)})`,
    );
  }
  if (r100 && r1000) {
    const m = marginalMs(r100, r1000);
    // Compared unrounded, printed with two decimals (11.03 is over 11, whatever rounding says).
    const ratio = r1000.wallMs / r100.wallMs;
    goals.push(
      `marginal cost 100→1000 ≤ ${SCALE_GOALS.marginalMs} ms per role: ${m <= SCALE_GOALS.marginalMs ? 'met' : 'NOT met'} (${m} ms)`,
      `1000/100 wall-time ratio ≤ ${SCALE_GOALS.ratio1000to100}: ${ratio <= SCALE_GOALS.ratio1000to100 ? 'met' : 'NOT met'} (${ratio.toFixed(2)})`,
    );
  }
  const phases = [...new Set(results.flatMap((r) => Object.keys(r.byPhase)))];
  const head = sub
    ? []
    : [
        '# scale: one rotation of N PostgreSQL roles',
        '',
        machineLine(machine),
        '',
        `Each role is its own \`type: postgres\` secret (strategy single, SCRAM verifiers) in one rekey.yaml; no deploy command and no verify list, so the time is rekey's own per-secret work. Wall time from process start to exit, median of ${opts.runs} rotations per size. Baseline: the results committed at ${BASELINE_COMMIT}, before issue 17's changes (append-only journal, concurrency). Each role changes its own password with its current one (no \`admin\`), as in the baseline.`,
        '',
      ];
  return [
    ...head,
    table(
      [
        'roles',
        'wall time',
        'baseline',
        'ms per role',
        'baseline',
        'marginal ms per extra role (vs the size above)',
        'baseline',
        'logins per role (refused ones too)',
        'journal steps',
        'runs (ms)',
      ],
      rows,
    ),
    '',
    marginalRow,
    '',
    ...(goals.length > 0 ? [`Goals (issue 17): ${goals.join('; ')}.`, ''] : []),
    'Time by step kind (last run, ms summed over the roles):',
    '',
    table(
      ['roles', ...phases],
      results.map((r) => [r.roles, ...phases.map((p) => r.byPhase[p] ?? 0)]),
    ),
    '',
  ].join('\n');
}
