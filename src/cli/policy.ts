/**
 * Policy and observability commands: status, check, serve, schedule. Arguments in, output out; what is
 * due, what fails the check and what may run unattended is decided in src/policy/.
 */
import { RotationControl } from '../engine/run.js';
import { RekeyError } from '../lib/errors.js';
import { type Logger, log } from '../lib/log.js';
import { redactor } from '../lib/redact.js';
// Each command loads only what it needs (status must start fast: no prom-client, croner or age).
import { checkFailure, evaluateCheck, githubAnnotations, lateBreakGlass } from '../policy/check.js';
import { readStatus } from '../policy/inputs.js';
import { renderCheck } from '../policy/render.js';
import type { RunReport } from '../policy/schedule/scheduler.js';
import { awaitingBreakGlass } from '../policy/sources.js';
import { type GlobalOptions, loadStack, openStack } from './context.js';
import { notifyOverdue, overdueNotices } from './notify-events.js';
import { withNotifications } from './notify-hooks.js';
import { list } from './options.js';
import { printJson, printLines } from './output.js';
import { plainProgress } from './progress.js';
import { installInterruptHandler } from './signals.js';

export { statusCommand } from './status.js';

export async function checkCommand(
  g: GlobalOptions,
  o: { json?: boolean; beforeRelease?: boolean },
): Promise<void> {
  const loaded = await loadStack(g.config);
  const report = await readStatus(loaded);
  const result = evaluateCheck(report, { beforeRelease: o.beforeRelease === true });
  const late = lateBreakGlass(await awaitingBreakGlass(loaded), loaded.config.approvals, new Date());
  await notifyOverdue(loaded, report.secrets);
  if (o.json) {
    printJson({
      ...result,
      stack: report.stack,
      now: report.now,
      secrets: report.secrets,
      lateBreakGlass: late,
    });
  } else {
    printLines(renderCheck(result, report.secrets.length));
    for (const b of late) {
      printLines([
        `break-glass request ${b.requestId} (${b.keys.join(', ')}, ${b.time}) still lacks its approvals after approvals.breakGlassDeadline`,
      ]);
    }
    if (process.env.GITHUB_ACTIONS === 'true') {
      for (const line of githubAnnotations(result)) process.stdout.write(`${redactor.redact(line)}\n`);
    }
  }
  const failure = checkFailure(result, late);
  if (failure) throw failure;
}

export async function serveCommand(
  g: GlobalOptions,
  o: { host: string; port: number; tokenFile?: string; tlsCert?: string; tlsKey?: string },
): Promise<void> {
  const { serveDashboard } = await import('../dashboard/serve.js');
  const server = await serveDashboard({
    ...(g.config ? { configPath: g.config } : {}),
    host: o.host,
    port: o.port,
    ...(o.tokenFile ? { tokenFile: o.tokenFile } : {}),
    ...(o.tlsCert ? { tlsCert: o.tlsCert } : {}),
    ...(o.tlsKey ? { tlsKey: o.tlsKey } : {}),
    log,
    // A store stack's `${NAME}` (e.g. a verify check's login password): the named values only, read
    // from the store as an env-file stack's are read from its env file.
    storeLookup: async (store, dir, names) => {
      const all = await (await import('./store.js')).storeOpener().reader(store, dir)();
      return new Map([...names].flatMap((n) => (all.has(n) ? [[n, all.get(n) as string] as const] : [])));
    },
  });
  const auth = o.tokenFile ? ' (bearer token required)' : '';
  log.info(`serving the dashboard on ${server.root}${auth}`);
  log.info(`serving Prometheus metrics on ${server.url}${auth}`);
  const signal = await untilSignal();
  log.info(`${signal}: stopping`);
  await server.close();
}

interface ScheduleOptions {
  once?: boolean;
  clear?: string | true;
  allowUnattended?: string[];
  json?: boolean;
}

export async function scheduleCommand(g: GlobalOptions, o: ScheduleOptions): Promise<void> {
  const [
    { ScheduleStore },
    { Scheduler, scheduleSettingsOf },
    { allowedUnattendedTypes, assertSchedulable },
    { engineRotator },
    { systemClock },
    { runFailure, runSucceeded },
  ] = await Promise.all([
    import('../policy/schedule/store.js'),
    import('../policy/schedule/scheduler.js'),
    import('../policy/schedule/unattended.js'),
    import('../policy/schedule/engine-rotate.js'),
    import('../policy/schedule/clock.js'),
    import('../policy/schedule/outcome.js'),
  ]);
  const loaded = await loadStack(g.config);
  const store = new ScheduleStore(loaded.stateDir);
  if (o.clear !== undefined) {
    const cleared = await store.clear(o.clear === true ? [] : list(o.clear));
    if (o.json) printJson({ ok: true, cleared });
    else printLines([cleared.length > 0 ? `cleared: ${cleared.join(', ')}` : 'nothing to clear']);
    return;
  }
  const allowed = allowedUnattendedTypes(o.allowUnattended ?? []);
  assertSchedulable(loaded.config.secrets, allowed);
  const control = new RotationControl();
  const logger = stamped(log);
  const overdue = overdueNotices(loaded, (m) => logger.warn(m));
  const scheduler = new Scheduler({
    settings: scheduleSettingsOf(loaded.config, allowed),
    clock: systemClock,
    status: async () => {
      const report = await readStatus(await loadStack(g.config));
      await overdue(report.secrets);
      return report;
    },
    rotate: engineRotator(() => openStack(g, { progress: plainProgress(), control, logger }), {
      warn: (m) => logger.warn(m),
      wrapHooks: (deps, hooks) => withNotifications(deps.loaded, hooks, (m) => logger.warn(m)),
    }),
    store,
    log: logger,
  });
  const abort = new AbortController();
  // The first SIGINT/SIGTERM (a timer's timeout, Ctrl-C) stops waiting and interrupts a running
  // rotation at its next safe point (it rolls back); a second exits at once unless the env file is
  // being written. The same for --once, which systemd timers and cron run.
  const stop = installInterruptHandler(control, {
    first: (signal) => {
      abort.abort();
      logger.info(`${signal}: stopping (a running rotation stops at its next safe point and rolls back)`);
    },
    say: (line) => logger.warn(line.trim()),
  });
  if (o.once) {
    try {
      const run = await scheduler.runOnce(abort.signal);
      if (o.json) printJson({ ok: runSucceeded(run), ...run });
      else printLines(summary(run));
      const failure = runFailure(run);
      if (failure) throw failure;
      if (abort.signal.aborted) {
        throw new RekeyError('ERR_INTERRUPTED', 'the scheduled run was stopped by a signal', {
          hint: 'A rotation it had started was rolled back; the next run will try again.',
        });
      }
      return;
    } finally {
      stop();
    }
  }
  try {
    logger.info(
      `rekey schedule: stack ${loaded.stack}, cron "${scheduleSettingsOf(loaded.config, allowed).cron}"`,
    );
    await scheduler.run(abort.signal);
  } finally {
    stop();
  }
}

function summary(run: RunReport): string[] {
  if (run.results.length === 0) return ['no unattended secret'];
  return run.results.map((r) => `${r.key}: ${r.outcome}${r.detail ? ` (${r.detail})` : ''}`);
}

/** Log lines prefixed with the time (a container's log has no timestamps of its own). */
function stamped(inner: Logger): Logger {
  const t = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  return {
    info: (m) => inner.info(`${t()} ${m}`),
    warn: (m) => inner.warn(`${t()} ${m}`),
    error: (m) => inner.error(`${t()} ${m}`),
    debug: (m) => inner.debug(`${t()} ${m}`),
  };
}

/** Resolves with the first SIGINT or SIGTERM. */
function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (s: NodeJS.Signals) => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(s);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}
