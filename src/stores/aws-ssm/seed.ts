/**
 * `rekey migrate --to aws-ssm`: the first copy of the values, one SecureString parameter per key
 * (`<prefix><KEY>`). A parameter that did not exist at the read is put without `Overwrite`, so SSM
 * refuses (ParameterAlreadyExists) if someone created it meanwhile; an existing one is re-checked
 * at its version right before it is overwritten (SSM has no compare-and-set).
 */
import { GetParametersCommand, type Parameter, PutParameterCommand } from '@aws-sdk/client-ssm';
import type { AwsSsmStoreConfig } from '../../config/store.js';
import type { Values } from '../../engine/ports.js';
import { RekeyError } from '../../lib/errors.js';
import { type AwsClientConfig, awsCall, ssmClient } from '../aws/clients.js';
import type { StoreSeeder } from '../seed.js';
import { AwsSsmStore } from './store.js';

const STORE = 'aws-ssm';

/**
 * @example
 * const seeder = awsSsmSeeder({ type: 'aws-ssm', prefix: '/bi/production/', region: 'eu-west-1' });
 */
export function awsSsmSeeder(
  config: AwsSsmStoreConfig,
  clientConfig: Omit<AwsClientConfig, 'region' | 'endpoint'> = {},
): StoreSeeder {
  const store = new AwsSsmStore(config, clientConfig);
  const client = ssmClient({
    ...clientConfig,
    ...(config.region === undefined ? {} : { region: config.region }),
    ...(config.endpoint === undefined ? {} : { endpoint: config.endpoint }),
  });
  const { prefix } = config;
  /** Version per key at the last read (0: no parameter). */
  const seen = new Map<string, number>();

  async function current(keys: readonly string[]): Promise<Map<string, Parameter>> {
    const out = new Map<string, Parameter>();
    for (let i = 0; i < keys.length; i += 10) {
      const names = keys.slice(i, i + 10).map((k) => prefix + k);
      const res = await awsCall(STORE, `GetParameters ${names.join(', ')}`, (abortSignal) =>
        client.send(new GetParametersCommand({ Names: names, WithDecryption: true }), { abortSignal }),
      );
      for (const p of res.Parameters ?? []) if (p.Name !== undefined) out.set(p.Name.slice(prefix.length), p);
    }
    return out;
  }

  const conflict = (key: string) =>
    new RekeyError('ERR_STORE_CONFLICT', `aws-ssm: another writer changed ${prefix}${key} meanwhile`, {
      hint: 'Find who writes under that prefix, then run `rekey migrate` again.',
    });

  return {
    name: store.name,
    check: () => store.check(),
    async read(keys) {
      const params = await current(keys);
      const out = new Map<string, string>();
      for (const k of keys) {
        const p = params.get(k);
        seen.set(k, p?.Version ?? 0);
        if (p?.Value !== undefined) out.set(k, p.Value);
      }
      return out;
    },
    async write(values: Values) {
      const keys = Object.keys(values);
      store.checkKeys({ values: new Map(), version: '' }, keys);
      const written: string[] = [];
      for (const key of keys) {
        const was = seen.get(key);
        if (was === undefined) throw new Error('awsSsmSeeder: write before read');
        const now = (await current([key])).get(key);
        if ((now?.Version ?? 0) !== was) throw conflict(key);
        const Name = prefix + key;
        const out = await awsCall(
          STORE,
          `PutParameter ${Name}`,
          (abortSignal) =>
            client.send(
              new PutParameterCommand({
                Name,
                Value: values[key],
                Type: 'SecureString',
                Overwrite: was !== 0,
                ...(config.kmsKeyId === undefined ? {} : { KeyId: config.kmsKeyId }),
              }),
              { abortSignal },
            ),
          ['ParameterAlreadyExists'],
        ).catch((e: unknown) => {
          if (e instanceof Error && e.name === 'ParameterAlreadyExists') throw conflict(key);
          throw e;
        });
        seen.set(key, out.Version ?? 0);
        written.push(`${key} v${out.Version ?? '?'}`);
      }
      return `SSM parameters written: ${written.join(', ')}`;
    },
  };
}
