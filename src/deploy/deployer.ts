/**
 * The `Deployer` port (src/engine/ports.ts) as the configured shell commands: `deploy.command` and
 * `deploy.rollback` run by {@link runCommand} in the config's folder, with the `passEnv` keys of the
 * env file, within `deploy.timeout`; a failure becomes ERR_DEPLOY_* with the output's last lines.
 */
import { ms } from '../config/load.js';
import type { CommandDeployConfig } from '../config/schema.js';
import type { Deployer, DeployRequest } from '../engine/ports.js';
import { type CommandResult, outputDetails, runCommand } from '../lib/command.js';
import { RekeyError } from '../lib/errors.js';

/**
 * @example
 * const deployer = createDeployer({ command: 'bash scripts/deploy.sh deploy', timeout: '5m', passEnv: [] }, dir);
 * await deployer.run('deploy', { env, extraEnv, secretKeys, logFile, started });
 */
export function createDeployer(deploy: CommandDeployConfig, cwd: string): Deployer {
  const timeoutMs = ms(deploy.timeout);
  const rollbackCommand = deploy.rollback ?? deploy.command;
  return {
    command: deploy.command,
    rollbackCommand,
    timeoutMs,
    async run(label: 'deploy' | 'rollback', request: DeployRequest) {
      const { env } = request;
      const result = await runCommand(label === 'rollback' ? rollbackCommand : deploy.command, {
        cwd,
        timeoutMs,
        secretKeys: request.secretKeys,
        extraEnv: {
          ...Object.fromEntries(deploy.passEnv.flatMap((k) => (env.has(k) ? [[k, env.get(k)!]] : []))),
          ...request.extraEnv,
        },
        logFile: request.logFile,
        started: request.started,
      });
      if (result.timedOut) {
        throw new RekeyError(
          'ERR_DEPLOY_TIMEOUT',
          `${label} command did not finish within ${deploy.timeout}`,
          {
            details: commandOutput(result),
          },
        );
      }
      if (result.exitCode !== 0) {
        throw new RekeyError(
          'ERR_DEPLOY_FAILED',
          `${label} command failed (${result.signal ? `signal ${result.signal}` : `exit ${result.exitCode}`})`,
          { details: commandOutput(result) },
        );
      }
      return { ms: result.ms };
    },
  };
}

/** Error details for a failed command: where its log is, then its last lines (left out of `--json`). */
function commandOutput(result: CommandResult): string[] {
  return [...(result.logFile ? [`output: ${result.logFile}`] : []), ...outputDetails(result.output)];
}
