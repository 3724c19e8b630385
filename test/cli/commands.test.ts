/**
 * Each command is declared whole in its own file, src/cli/commands/<name>.ts: name, description,
 * every option, action. Registered alone on an empty program, each file must give exactly the help
 * the built `rekey <name> --help` prints, so no option can be added to a command from another file.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(ROOT, 'dist/src/cli/main.js');
const rekey = (...args: string[]) => execFileSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });

/** The names of the subcommands listed under `Commands:` in a help text. */
const commandsOf = (help: string) =>
  help.includes('Commands:')
    ? help
        .slice(help.indexOf('Commands:'))
        .split('\n')
        .map((l) => /^ {2}([a-z-]+)/.exec(l)?.[1])
        .filter((c): c is string => c !== undefined && c !== 'help')
    : [];

describe('the commands of rekey', () => {
  const commands = commandsOf(rekey('--help'));

  it('are listed by `rekey --help`', () => {
    expect(commands.length).toBeGreaterThan(10);
  });

  it('each declare all their options in their own file (commands/<name>.ts alone gives the same help)', async () => {
    for (const name of commands) {
      const file = path.join(ROOT, 'src/cli/commands', `${name}.ts`);
      expect(existsSync(file), `src/cli/commands/${name}.ts`).toBe(true);
      const program = new Command('rekey').configureOutput({
        getOutHelpWidth: () => 80,
        getErrHelpWidth: () => 80,
      });
      const mod = (await import(file)) as { register(p: Command, g: () => object): void };
      mod.register(program, () => ({}));
      expect(program.commands.map((c) => c.name())).toEqual([name]);
      const command = program.commands[0]!;
      expect(command.helpInformation(), `rekey ${name} --help`).toBe(rekey(name, '--help'));
      for (const sub of command.commands) {
        expect(sub.helpInformation(), `rekey ${name} ${sub.name()} --help`).toBe(
          rekey(name, sub.name(), '--help'),
        );
      }
    }
  });

  it('are declared only under src/cli/commands/: no other file of src/ adds a command or an option', () => {
    // main.ts declares the program's own options (--config, …) and registers the files of commands/.
    const files = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
        const p = path.join(dir, e.name);
        return e.isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
      });
    const patching = files(path.join(ROOT, 'src'))
      .filter((f) => !f.startsWith(path.join(ROOT, 'src/cli/commands') + path.sep))
      .filter((f) => f !== path.join(ROOT, 'src/cli/main.ts'))
      .filter((f) =>
        /\.commands\.find\(|\.command\('|\.(option|requiredOption|addOption)\(/.test(readFileSync(f, 'utf8')),
      )
      .map((f) => path.relative(ROOT, f));
    expect(patching).toEqual([]);
  });
});
