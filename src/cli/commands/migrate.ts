/** `rekey migrate`: copy the env file's managed values into a managed store, and point rekey.yaml at it. */
import type { Command } from 'commander';
import type { GlobalOptions } from '../context.js';
import { jsonOption } from '../options.js';

export function register(program: Command, globals: () => GlobalOptions): void {
  program
    .command('migrate')
    .description("copy the env file's managed values into a secret store and point rekey.yaml at it")
    .requiredOption('--to <store>', 'vault-kv, aws-ssm, aws-secretsmanager or kubernetes')
    .option('--address <url>', 'vault-kv: Vault address (default VAULT_ADDR)')
    .option('--mount <mount>', 'vault-kv: the KV v2 mount (default secret)')
    .option('--path <path>', 'vault-kv: the secret under the mount, e.g. bi/production')
    .option(
      '--namespace <ns>',
      "vault-kv: Vault Enterprise namespace (default VAULT_NAMESPACE); kubernetes: the Secret's namespace",
    )
    .option('--token-file <file>', 'vault-kv: a file holding the token (default VAULT_TOKEN)')
    .option('--prefix <path>', 'aws-ssm: the parameter path, e.g. /bi/production/')
    .option('--kms-key-id <id>', 'aws-ssm: KMS key for the SecureString parameters')
    .option('--secret-id <id>', "aws-secretsmanager: the secret's name or ARN")
    .option('--region <region>', 'aws-ssm, aws-secretsmanager: the AWS region')
    .option('--endpoint <url>', 'aws-ssm, aws-secretsmanager: endpoint (tests, VPC endpoints)')
    .option('--name <name>', 'kubernetes: the Secret (created when absent)')
    .option('--context <context>', 'kubernetes: the kubeconfig context (default: the current one)')
    .option('--dry-run', 'show the plan; change nothing')
    .option('--force', 'overwrite values the store already holds that differ from the env file')
    .option(
      '--remove-from-env',
      'then remove the keys from the env file (once the store holds the same values)',
    )
    .option('--yes', 'do not ask for confirmation')
    .addOption(jsonOption())
    .action(async (o) => (await import('../migrate.js')).migrateCommand(globals(), o));
}
