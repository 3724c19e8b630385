/**
 * `rekey status`: what it reads and prints, and nothing else, so it starts fast (no engine, targets,
 * deployer, notifications or scheduler: see the cold-start rows of bench/results/startup.md).
 */
import { readStatus } from '../policy/inputs.js';
import { renderStatus } from '../policy/render.js';
import { type GlobalOptions, loadStack } from './context.js';
import { printJson, printLines } from './output.js';

export async function statusCommand(g: GlobalOptions, o: { json?: boolean }): Promise<void> {
  const report = await readStatus(await loadStack(g.config));
  if (o.json) printJson({ ok: true, ...report });
  else printLines(renderStatus(report));
}
