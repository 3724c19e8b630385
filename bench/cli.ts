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

/**
 * @example
 * const run = await rekey(['rotate', '--yes', '--json'], stackDir);
 */
export function rekey(args: readonly string[], cwd: string): Promise<CliRun> {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(process.execPath, [CLI, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('close', (code) => {
      const wallMs = performance.now() - started;
      let json: unknown;
      try {
        json = JSON.parse(stdout);
      } catch {
        json = undefined;
      }
      resolve({ code, wallMs, json, stderr });
    });
  });
}

/** The `steps` of a rotate/recover `--json` document: id and duration. */
export function stepsOf(json: unknown): Array<{ id: string; ms: number }> {
  const steps = (json as { steps?: Array<{ id?: unknown; ms?: unknown }> } | undefined)?.steps ?? [];
  return steps.map((s) => ({ id: String(s.id), ms: typeof s.ms === 'number' ? s.ms : 0 }));
}
