#!/usr/bin/env node
/**
 * The rekey command line. Parses arguments and dispatches to one file per command; this is the only
 * place that exits, mapping typed errors to the contract's exit codes (lib/errors.ts).
 */
import { Command, CommanderError, Option } from 'commander';
import { TRIGGERS, type Trigger } from '../config/triggers.js';
import { EXIT, exitCodeOf, RekeyError } from '../lib/errors.js';
import { color } from '../lib/log.js';
import { redactor, safeMessage } from '../lib/redact.js';
import { registerGovernanceCommands } from './governance-commands.js';
import { collect, list } from './options.js';
import { jsonWasPrinted, printJson, setVerbose } from './output.js';
import { registerPolicyCommands } from './policy-commands.js';

const VERSION = '0.1.0';

const triggerOption = () =>
  new Option('--trigger <trigger>', 'why the rotation happens')
    .choices(TRIGGERS)
    .default('scheduled' as Trigger);

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
  const globals = () => program.opts<{ config: string; allowUnignored?: boolean }>();

  program
    .command('init')
    .description('write rekey.yaml detected from the env file')
    .option('--env-file <path>', 'the env file', '.env.production')
    .option('--json', 'print one JSON document on stdout')
    .action(async (o) => (await import('./init.js')).initCommand(globals(), o));

  program
    .command('plan')
    .description('dry run: preflight checks and what a rotation would change')
    .option('--only <keys>', 'comma-separated keys to rotate', list)
    .addOption(triggerOption())
    .option('--force', 'with --trigger personnel, honour --only')
    .option('--json', 'print one JSON document on stdout')
    .action(async (o) => (await import('./plan.js')).planCommand(globals(), o));

  program
    .command('rotate')
    .description('rotate: new values on the live services, env file, deploy, verify; rolls back on failure')
    .option('--only <keys>', 'comma-separated keys to rotate', list)
    .addOption(triggerOption())
    .option('--force', 'with --trigger personnel, honour --only')
    .option('--ticket <id>', 'change ticket, recorded in the audit log')
    .option('--operator <name>', 'who rotates (default: git user.email, else the OS user)')
    .option('--attach <file>', 'attach a scan report to the audit record (repeatable)', collect)
    .option('--yes', 'do not ask for confirmation')
    .option('--json', 'print one JSON document on stdout')
    .action(async (o) => (await import('./rotate.js')).rotateCommand(globals(), o));

  program
    .command('recover')
    .description('finish or undo an interrupted rotation')
    .option('--yes', 'do not ask for confirmation')
    .option('--json', 'print one JSON document on stdout')
    .action(async (o) => (await import('./recover.js')).recoverCommand(globals(), o));

  program
    .command('rollback')
    .description("return to a backup's values, live services included")
    .option('--backup <path>', 'the backup to return to (default: the newest)')
    .option('--operator <name>', 'who rolls back')
    .option('--ticket <id>', 'change ticket')
    .option('--yes', 'do not ask for confirmation')
    .option('--json', 'print one JSON document on stdout')
    .action(async (o) => (await import('./rollback.js')).rollbackCommand(globals(), o));

  program
    .command('verify')
    .description('the post-rotation validation table')
    .addOption(
      new Option(
        '--trigger <trigger>',
        'compromise: also look (read-only) for what an attacker could still use',
      )
        .choices(TRIGGERS)
        .default('scheduled' as Trigger),
    )
    .option('--json', 'print one JSON document on stdout')
    .action(async (o) => (await import('./verify.js')).verifyCommand(globals(), o));

  program
    .command('demo')
    .description('throwaway local stack, full rotation, then tear down')
    .option('--keep', 'leave the stack running and print how to reach and stop it')
    .option('--json', 'print one JSON document (the claims and their outcomes) on stdout')
    .action(async (o) => (await import('./demo.js')).demoCommand(o));

  registerGovernanceCommands(program, globals);
  registerPolicyCommands(program, globals);
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
