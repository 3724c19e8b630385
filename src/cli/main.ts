#!/usr/bin/env node
/**
 * The rekey command line. Parses arguments and dispatches to one file per command; this is the only
 * place that exits, mapping typed errors to the contract's exit codes (lib/errors.ts).
 */
import { Command, CommanderError } from 'commander';
import { EXIT, exitCodeOf, RekeyError } from '../lib/errors.js';
import { color } from '../lib/log.js';
import { redactor, safeMessage } from '../lib/redact.js';
import * as approve from './commands/approve.js';
import * as audit from './commands/audit.js';
import * as check from './commands/check.js';
import * as demo from './commands/demo.js';
import * as doctor from './commands/doctor.js';
import * as init from './commands/init.js';
import * as migrate from './commands/migrate.js';
import * as plan from './commands/plan.js';
import * as recover from './commands/recover.js';
import * as report from './commands/report.js';
import * as request from './commands/request.js';
import * as requests from './commands/requests.js';
import * as rollback from './commands/rollback.js';
import * as rotate from './commands/rotate.js';
import * as schedule from './commands/schedule.js';
import * as serve from './commands/serve.js';
import * as status from './commands/status.js';
import * as verify from './commands/verify.js';
import type { GlobalOptions } from './context.js';
import { jsonWasPrinted, printJson, setVerbose } from './output.js';
import { VERSION } from './version.js';

/**
 * The commands in the order `rekey --help` lists them. Each file under commands/ declares its whole
 * command (name, description, every option, action) and imports the implementation only when it runs.
 */
const COMMANDS: readonly { register(program: Command, globals: () => GlobalOptions): void }[] = [
  init,
  plan,
  rotate,
  recover,
  rollback,
  verify,
  migrate,
  demo,
  request,
  approve,
  requests,
  audit,
  status,
  check,
  doctor,
  report,
  serve,
  schedule,
];

export function buildProgram(): Command {
  const program = new Command('rekey')
    .description(
      'Rotate the secrets of a production stack safely: live services, env file, deploy, verify, rollback.',
    )
    .version(VERSION)
    .option('--config <path>', 'the rekey.yaml to use', 'rekey.yaml')
    .option('--allow-unignored', 'accept an env file inside a git work tree that .gitignore does not cover')
    .option('--verbose', 'with --json: keep the (redacted) output of a failed deploy in the document')
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({ writeErr: () => {}, outputError: () => {} })
    .hook('preAction', () => setVerbose(program.opts<{ verbose?: boolean }>().verbose === true));
  const globals = () => program.opts<GlobalOptions & { config: string }>();
  for (const command of COMMANDS) command.register(program, globals);
  return program;
}

function wantsJson(argv: readonly string[]): boolean {
  return argv.includes('--json');
}

/** Prints an error the contract's way: code and what is wrong, then what to do. */
function printError(err: unknown, json: boolean): number {
  const e =
    err instanceof RekeyError ? err : new RekeyError('ERR_INTERNAL', safeMessage(err), { cause: err });
  if (json && !jsonWasPrinted()) {
    printJson({ ok: false, error: { code: e.code, message: e.message, hint: e.hint, details: e.details } });
  }
  const lines = [
    `${color.red('rekey:')} ${e.code}: ${e.message}`,
    ...e.details.map((d) => `  ${d}`),
    `  ${color.dim('→')} ${e.hint}`,
  ];
  if (!(err instanceof RekeyError) && process.env.REKEY_DEBUG === '1' && err instanceof Error && err.stack) {
    lines.push(err.stack);
  }
  process.stderr.write(`${redactor.redact(lines.join('\n'))}\n`);
  return exitCodeOf(e);
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv]);
    return EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0) {
        return EXIT.ok;
      }
      const message = err.message.replace(/^error: /, '');
      return printError(new RekeyError('ERR_USAGE', message), wantsJson(argv));
    }
    return printError(err, wantsJson(argv));
  }
}

main(process.argv).then(
  (code) => {
    // Let stdout drain (a JSON document piped to another program), then exit: open sockets of
    // service clients must not keep a finished command alive.
    process.stdout.write('', () => process.exit(code));
  },
  (err) => {
    process.stderr.write(`rekey: ERR_INTERNAL: ${safeMessage(err)}\n`);
    process.exit(EXIT.needsAttention);
  },
);
