// `npm run resilience`: runs the fault tests of the engine and the live targets with
// REKEY_RESILIENCE_OUT set, collects the rows they record (test/helpers/resilience.ts) and writes
// docs/resilience.md. Exits 1 when any row failed or the tests failed. Runs after the build
// (`npm run resilience` builds first): its temp folder is made and removed by dist's owned-dir.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeOwnedDirSync, removeOwnedDirSync } from '../dist/src/lib/owned-dir.js';

const root = new URL('..', import.meta.url).pathname;
const dir = makeOwnedDirSync('rekey-resilience-');
const out = path.join(dir, 'rows.jsonl');
writeFileSync(out, '');
// `node scripts/resilience.mjs FILE...` (after a build) runs only those test files and prints the
// report on stdout instead of writing docs/resilience.md (for checking one table, e.g. the eviction
// files, without the full 10-minute run).
// `node scripts/resilience.mjs --rows FILE` runs nothing: it writes docs/resilience.md from the rows a
// whole-suite run already recorded (e.g. `.ci/run` with REKEY_RESILIENCE_OUT=FILE set), so the report
// covers every test that records a row without a second run of the fault tests.
const rowsArg = process.argv.indexOf('--rows');
const rowsFile = rowsArg >= 0 ? path.resolve(process.argv[rowsArg + 1] ?? '') : undefined;
const subset = rowsFile === undefined ? process.argv.slice(2) : [];
const files =
  subset.length > 0
    ? subset
    : [
        'test/engine/crash.test.ts',
        'test/engine/rotate.test.ts',
        'test/live',
        'test/cli/user-errors.test.ts',
        'test/demo/demo.test.ts',
        'test/demo/demo-vault.test.ts',
        'test/demo/stop-script.test.ts',
        'test/lib/cleanup-canary.test.ts',
        'test/lib/owned-dir.test.ts',
        'test/notify/notify.test.ts',
        'test/report/report.test.ts',
        'test/browser',
        'test/policy/schedule-store.test.ts',
        'test/policy/serve-secrets.test.ts',
        'test/targets/redis/unsaved-revert.test.ts',
        'test/policy/scheduler-auth.test.ts',
        'test/targets/redis/finish.test.ts',
        'test/policy/stacks.test.ts',
        'test/governance/audit-close.test.ts',
        'test/targets/redis/compromise.test.ts',
        'test/targets/redis/admin.test.ts',
        'test/targets/redis/footholds.test.ts',
        'test/engine/unit/engine.test.ts',
        'test/targets/postgres/compromise.test.ts',
        'test/cli/eviction.test.ts',
        'test/targets/postgres/footholds.test.ts',
        'test/cli/eviction-recover.test.ts',
        'test/cli/verify-compromise.test.ts',
        'test/cli/grafana-eviction.test.ts',
        'test/governance/break-glass-identity.test.ts',
        'test/governance/signed-request.test.ts',
        'test/stores',
        'test/kubernetes',
      ];
const started = Date.now();
const run =
  rowsFile === undefined
    ? spawnSync('bash', ['scripts/test.sh', ...files], {
        cwd: root,
        stdio: ['ignore', 'inherit', 'inherit'],
        env: { ...process.env, REKEY_RESILIENCE_OUT: out },
      })
    : { status: 0 };
const rows = readFileSync(rowsFile ?? out, 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l));
removeOwnedDirSync(dir);

const ok = (r) =>
  r.kind === 'crash'
    ? r.converged
    : r.kind === 'failure'
      ? r.rolledBack
      : r.kind === 'concurrency'
        ? r.ok
        : r.kind === 'bad-input'
          ? r.exit === (r.expected ?? 2) && r.unchanged
          : r.kind === 'cleanup'
            ? r.removedOwn && r.keptOthers
            : r.kind === 'fail-closed'
              ? r.closed
              : r.kind === 'eviction'
                ? r.ok
                : r.occurrences === 0;
const yes = (b) => (b ? 'yes' : '**NO**');
const esc = (s) => String(s).replace(/\|/g, '\\|');
const table = (head, body) => [
  `| ${head.join(' | ')} |`,
  `|${head.map(() => '---').join('|')}|`,
  ...body.map((r) => `| ${r.map(esc).join(' | ')} |`),
];
const of = (kind) => rows.filter((r) => r.kind === kind);
const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
const failed = rows.filter((r) => !ok(r));
const kinds = [
  ['crash', 'kill -9, then recover: converged'],
  ['failure', 'service and step failures: rolled back'],
  ['concurrency', 'concurrent rotations'],
  ['bad-input', 'refused: exit 2 (bad input) or 5 (change control), nothing changed'],
  ['canary', 'canary scans: 0 occurrences'],
  ['cleanup', 'teardowns: own folders removed, canary beside them kept'],
  ['fail-closed', 'failures while a service is open: left closed'],
  ['eviction', 'compromise rotations against an attacker foothold: as asserted'],
];

// The eviction matrix: a foothold kind (row) × a service (column); a row's own `row`/`column`
// fields win, else they are read from its words (helpers record free text: 'Redis', 'PostgreSQL',
// 'LOGIN role the attacker created', ...).
const COLUMNS = ['Redis', 'PostgreSQL', 'Grafana', 'JWT', 'API key'];
const FOOTHOLDS = ['passwords', 'connections', 'sessions', 'tokens', 'users/roles'];
const columnOf = (r) => {
  if (r.column) return r.column;
  const s = String(r.service).toLowerCase();
  if (s.includes('redis')) return 'Redis';
  if (s.includes('postgres')) return 'PostgreSQL';
  if (s.includes('grafana')) return 'Grafana';
  if (s.includes('jwt')) return 'JWT';
  if (/api[ -_]?key/.test(s)) return 'API key';
  return 'other';
};
const footholdOf = (r) => {
  if (r.row) return r.row;
  const f = String(r.foothold).toLowerCase();
  if (f.includes('session')) return 'sessions';
  if (f.includes('connection')) return 'connections';
  if (/token|api key|\bkey\b|service account/.test(f)) return 'tokens';
  if (/password|previous slot|secret/.test(f)) return 'passwords';
  if (/role|user/.test(f)) return 'users/roles';
  return 'other';
};
const evictions = of('eviction');
const columns = [...COLUMNS, ...(evictions.some((r) => columnOf(r) === 'other') ? ['other'] : [])];
const footholds = [...FOOTHOLDS, ...(evictions.some((r) => footholdOf(r) === 'other') ? ['other'] : [])];
const cell = (foothold, column) => {
  const here = evictions.filter((r) => footholdOf(r) === foothold && columnOf(r) === column);
  if (here.length === 0) return '—';
  const results = [...new Set(here.map((r) => r.result))].join(' / ');
  const bad = here.filter((r) => !ok(r)).length;
  return bad > 0 ? `${results} (**${bad} failed**)` : results;
};

// The store column: which store a row's rotation wrote (a store suite names it: `store aws-ssm …`).
const STORES = ['env file', 'vault-kv', 'aws-ssm', 'aws-secretsmanager', 'kubernetes'];
const storeOf = (r) =>
  /\b(vault-kv|aws-ssm|aws-secretsmanager|kubernetes)\b/.exec(String(r.suite))?.[1] ?? 'env file';
const storeCell = (kind, store) => {
  const here = of(kind).filter((r) => storeOf(r) === store);
  if (here.length === 0) return '—';
  const bad = here.filter((r) => !ok(r)).length;
  return bad > 0
    ? `${here.length - bad}/${here.length} (**${bad} failed**)`
    : `${here.length}/${here.length}`;
};

const md = [
  '# Resilience report',
  '',
  rowsFile === undefined
    ? `Generated by \`npm run resilience\` on ${new Date().toISOString().slice(0, 10)}: ${os.cpus().length} × ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, in ${Math.round((Date.now() - started) / 1000)} s.`
    : `Generated on ${new Date().toISOString().slice(0, 10)} by \`node scripts/resilience.mjs --rows\` from the rows a whole-suite run (\`.ci/run\` with REKEY_RESILIENCE_OUT set, on a clean clone) recorded: ${os.cpus().length} × ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}; that run passed.`,
  'Every row is a real run of the built CLI (or, where the suite says so, of a target in process) against real files,',
  'real PostgreSQL and Redis servers and the Grafana stand-in, recorded by the fault tests before they assert; the',
  'tests themselves fail on any failed row.',
  '',
  '## Totals',
  '',
  ...table(
    ['what', 'rows', 'passed', 'failed'],
    kinds.map(([k, label]) => [
      label,
      of(k).length,
      of(k).filter(ok).length,
      of(k).filter((r) => !ok(r)).length,
    ]),
  ),
  `| **all** | **${rows.length}** | **${rows.length - failed.length}** | **${failed.length}** |`,
  '',
  `Test run: ${run.status === 0 ? 'passed' : `**FAILED** (exit ${run.status})`}.`,
  '',
  '## Stores (where the values live)',
  '',
  'Rows passed per store the rotation wrote: the env file, or a managed store against its stand-in (docs/stores.md).',
  '',
  ...table(
    ['what', ...STORES],
    kinds
      .filter(([k]) => ['crash', 'failure', 'concurrency', 'canary'].includes(k))
      .map(([k, label]) => [label, ...STORES.map((st) => storeCell(k, st))]),
  ),
  '',
  '## Crash points × targets (kill -9, then `rekey recover`)',
  '',
  'Crash points are `REKEY_CRASH_AT=<step>@begin` (right after the journal records the step) and `@end` (right after the step\'s work, before the journal records it), plus kills at random moments. "Converged" means: recover exited 0, every service accepts exactly what the env file holds, no journal is left, and a second recover is a no-op.',
  '',
  ...table(
    ['suite', 'crash point', 'target', 'recover outcome', 'converged'],
    of('crash').map((r) => [r.suite, `\`${r.point}\``, r.target, r.outcome, yes(r.converged)]),
  ),
  '',
  '## Service and step failures (rolled back?)',
  '',
  '"Rolled back" means: exit 1 (or exit 4 and then `rekey recover` once the service is back), the env file byte-identical to before, every service on its old value.',
  '',
  ...table(
    ['suite', 'where', 'cause', 'exit', 'rolled back'],
    of('failure').map((r) => [r.suite, `\`${r.point}\``, r.cause, r.exit, yes(r.rolledBack)]),
  ),
  '',
  '## Concurrent rotations',
  '',
  ...table(
    ['suite', 'case', 'result', 'ok'],
    of('concurrency').map((r) => [r.suite, r.case, r.detail, yes(r.ok)]),
  ),
  '',
  '## Refused input (exit 2 for bad input, 5 for change control; every file byte- and mtime-identical)',
  '',
  ...table(
    ['case', 'exit', 'expected', 'error code', 'nothing changed'],
    of('bad-input').map((r) => [r.case, r.exit, r.expected ?? 2, r.code, yes(r.unchanged)]),
  ),
  '',
  '## Canary scans (old and new secret values)',
  '',
  ...table(
    ['suite', 'scanned', 'values', 'places', 'occurrences found'],
    of('canary').map((r) => [
      r.suite,
      r.scope,
      r.values,
      r.places,
      r.occurrences === 0 ? '0' : `**${r.occurrences}**`,
    ]),
  ),
  '',
  '## Teardowns (a canary file beside the folders they remove)',
  '',
  'TMPDIR and REKEY_STACK_TMPDIR point at folders holding a canary file. "Removed its own" means the teardown left nothing of what it created; "kept the rest" means the canary (and anything it was not asked to remove) is still there. Recursive deletes go through `src/lib/owned-dir.ts`: only a folder holding the `.rekey-owned` marker that names it, the marker removed after everything else in it (a removal killed midway can be done again).',
  '',
  ...table(
    ['suite', 'case', 'removed its own', 'kept the rest'],
    of('cleanup').map((r) => [r.suite, r.case, yes(r.removedOwn), yes(r.keptOthers)]),
  ),
  '',
  '## Failures while a service is open (left closed?)',
  '',
  '"Closed" means: the user holds the new password and is never left `nopass` (a client without a password is refused).',
  '',
  ...table(
    ['suite', 'where', 'cause', 'result', 'closed'],
    of('fail-closed').map((r) => [r.suite, `\`${r.point}\``, r.cause, r.detail, yes(r.closed)]),
  ),
  '',
  '## Eviction (an attacker foothold × service, after `--trigger compromise`)',
  '',
  '"Removed": the foothold no longer works (checked by the test as the attacker); "reported": found and named in the eviction report, left in place; "not checkable": the report says so, with the reason; "—": no test plays that foothold there. A cell lists every result its rows recorded, and how many failed.',
  '',
  ...table(
    ['foothold', ...columns],
    footholds.map((f) => [f, ...columns.map((c) => cell(f, c))]),
  ),
  '',
  'Every case:',
  '',
  ...table(
    ['suite', 'service', 'foothold', 'result', 'as asserted'],
    of('eviction').map((r) => [r.suite, r.service, r.foothold, r.result, yes(r.ok)]),
  ),
  '',
];
if (subset.length > 0) {
  process.stdout.write(`${md.join('\n')}\n`);
  console.error(
    `${subset.join(' ')}: ${rows.length} rows, ${failed.length} failed (docs/resilience.md left as it is)`,
  );
} else {
  writeFileSync(path.join(root, 'docs/resilience.md'), `${md.join('\n')}\n`);
  spawnSync('npx', ['biome', 'format', '--write', 'docs/resilience.md'], { cwd: root, stdio: 'ignore' });
  console.error(`docs/resilience.md: ${rows.length} rows, ${failed.length} failed`);
}
process.exit(run.status === 0 && failed.length === 0 && rows.length > 0 ? 0 : 1);
