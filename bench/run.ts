/**
 * `npm run bench -- <name> [options]`: runs one benchmark (or `all`) and writes
 * bench/results/<name>.json and <name>.md. Benchmarks are scripts, not tests: they print progress on
 * stderr and fail (exit 1) only when something did not work, never on a missed target.
 *
 *   zero-downtime [--seconds 30] [--rate 200,1000]  the demo stack under load during a rotation: rekey, a
 *                                               no-rotation control (each rate), naive (the first rate)
 *   purge [--runs 3] [--sessions N] [--others N]   session purge: rekey vs shell vs FLUSHDB ASYNC (+ chart)
 *   purge --variants [--runs 3]                 the purge implementations tried, into purge-variants.md
 *   rotate [--runs 5] [--status-runs 10]        a full five-secret rotation; `rekey status` cold start
 *   rotate --stores [--runs 5] [--out DIR]      a row per store (env file, Vault KV, SSM, Secrets Manager)
 *   startup [--runs 20]                         cold starts: --version, status (5 and 20 secrets), plan
 *   scale [--sizes 10,100,1000] [--runs 3]      N PostgreSQL roles in one rotation
 *   floor                                       what each piece of a role's rotation costs alone
 *   journal [--targets 1000]                    the journal's writes alone: whole-file rewrite vs log
 *   settle [--runs 10]                          the demo's verify checks polled every ~2 ms after each deploy
 *   all                                         every one of them, in that order
 */
import { parseArgs } from 'node:util';
import { benchFloor } from './floor.js';
import { benchJournal } from './journal.js';
import { benchPurge } from './purge.js';
import { say } from './report.js';
import { benchRotate } from './rotate.js';
import { benchRotateStores } from './rotate-stores.js';
import { benchScale } from './scale.js';
import { benchSettle } from './settle.js';
import { benchStartup } from './startup.js';
import { benchZeroDowntime } from './zero-downtime.js';

const NAMES = ['zero-downtime', 'purge', 'rotate', 'startup', 'scale', 'floor', 'journal', 'settle'] as const;
type Name = (typeof NAMES)[number];

const USAGE = `usage: npm run bench -- <${[...NAMES, 'all'].join('|')}> [options] (see bench/README.md)`;

async function main(): Promise<number> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      runs: { type: 'string' },
      'status-runs': { type: 'string' },
      variants: { type: 'boolean', default: false },
      stores: { type: 'boolean', default: false },
      out: { type: 'string' },
      sessions: { type: 'string' },
      others: { type: 'string' },
      seconds: { type: 'string' },
      rate: { type: 'string' },
      sizes: { type: 'string' },
      targets: { type: 'string' },
    },
  });
  const [name, ...rest] = positionals;
  if (name === undefined || rest.length > 0 || (name !== 'all' && !NAMES.includes(name as Name))) {
    say(USAGE);
    return 2;
  }
  const int = (v: string | undefined, fallback: number) => {
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`expected a positive integer, got ${v}`);
    return n;
  };
  const which: Name[] = name === 'all' ? [...NAMES] : [name as Name];
  for (const bench of which) {
    const started = Date.now();
    say(`== bench ${bench}`);
    switch (bench) {
      case 'purge':
        await benchPurge({
          runs: int(values.runs, 3),
          variants: values.variants ?? false,
          sessions: int(values.sessions, 1_000_000),
          others: int(values.others, 1_000_000),
        });
        break;
      case 'zero-downtime':
        await benchZeroDowntime({
          seconds: int(values.seconds, 30),
          rates: (values.rate ?? '200,1000').split(',').map((r) => int(r, 0)),
          ...(values.out === undefined ? {} : { out: values.out }),
        });
        break;
      case 'rotate':
        if (values.stores)
          await benchRotateStores({
            runs: int(values.runs, 5),
            ...(values.out === undefined ? {} : { out: values.out }),
          });
        else await benchRotate({ runs: int(values.runs, 5), statusRuns: int(values['status-runs'], 10) });
        break;
      case 'startup':
        await benchStartup({ runs: int(values.runs, 20) });
        break;
      case 'scale':
        await benchScale({
          sizes: (values.sizes ?? '10,100,1000').split(',').map((s) => int(s, 0)),
          runs: int(values.runs, 3),
        });
        break;
      case 'floor':
        await benchFloor();
        break;
      case 'journal':
        await benchJournal({ targets: int(values.targets, 1000) });
        break;
      case 'settle':
        await benchSettle({ runs: int(values.runs, 10) });
        break;
    }
    say(`== ${bench} done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    say(`bench failed: ${(err as Error).stack ?? String(err)}`);
    process.exit(1);
  },
);
