/** Running the rekey CLI (dist/src/cli/main.js) as a child, timed, its `--json` document parsed. */
import { spawn } from 'node:child_process';
import { CLI } from './stack.js';

export interface CliRun {
  readonly code: number | null;
  /** Process start to exit, ms. */
  readonly wallMs: number;
  readonly json: unknown;
  readonly stderr: string;
}

/** `rekey rotate --trigger scheduled` as the benchmarks run it (no prompt, JSON out, audited). */
export function rotateArgs(ticket: string): string[] {
  return ['rotate', '--trigger', 'scheduled', '--yes', '--json', '--ticket', ticket, '--operator', 'bench'];
}

/**
 * Runs a Node script as a child and collects its output.
 *
 * @example
 * const r = await runNode(NAIVE, [grafanaUrl], stackDir);
 */
export function runNode(
  file: string,
  args: readonly string[],
  cwd: string,
  env?: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string; wallMs: number }> {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(process.execPath, [file, ...args], {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(env === undefined ? {} : { env }),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('close', (code) => resolve({ code, stdout, stderr, wallMs: performance.now() - started }));
  });
}

/**
 * @example
 * const run = await rekey(rotateArgs('BENCH-1'), stackDir);
 */
export async function rekey(args: readonly string[], cwd: string, env?: NodeJS.ProcessEnv): Promise<CliRun> {
  const { code, stdout, stderr, wallMs } = await runNode(CLI, args, cwd, env);
  let json: unknown;
  try {
    json = JSON.parse(stdout);
  } catch {
    json = undefined;
  }
  return { code, wallMs, json, stderr };
}

/** The `steps` of a rotate/recover `--json` document: id and duration. */
export function stepsOf(json: unknown): Array<{ id: string; ms: number }> {
  const steps = (json as { steps?: Array<{ id?: unknown; ms?: unknown }> } | undefined)?.steps ?? [];
  return steps.map((s) => ({ id: String(s.id), ms: typeof s.ms === 'number' ? s.ms : 0 }));
}
