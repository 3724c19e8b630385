/**
 * The SSM Parameter Store stand-in driven by the real SDK (@aws-sdk/client-ssm) with the stand-in as
 * endpoint: the SDK must accept every answer unchanged (shapes, epoch-second timestamps, error
 * types), and the stand-in must keep SSM's rules (versions, Overwrite, labels moving, limits).
 */
import {
  GetParameterCommand,
  GetParameterHistoryCommand,
  GetParametersCommand,
  LabelParameterVersionCommand,
  ParameterAlreadyExists,
  ParameterMaxVersionLimitExceeded,
  ParameterNotFound,
  ParameterVersionNotFound,
  PutParameterCommand,
  paginateGetParametersByPath,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { afterEach, describe, expect, it } from 'vitest';
import { type SsmStandIn, type SsmStandInOptions, startSsmStandIn } from '../../demo/stand-ins/ssm.js';

const running: SsmStandIn[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});

async function fresh(options: SsmStandInOptions = {}, accessKeyId = 'AKIDSTANDIN') {
  const ssm = await startSsmStandIn({ region: 'eu-west-1', ...options });
  running.push(ssm);
  const client = new SSMClient({
    region: 'eu-west-1',
    endpoint: ssm.url,
    credentials: { accessKeyId, secretAccessKey: 'stand-in-secret-key' },
    maxAttempts: 3,
  });
  return { ssm, client };
}

const put = (client: SSMClient, Name: string, Value: string, Overwrite = false) =>
  client.send(new PutParameterCommand({ Name, Value, Type: 'SecureString', Overwrite }));

describe('SSM stand-in through @aws-sdk/client-ssm', () => {
  it('numbers versions, refuses to overwrite without Overwrite, hides SecureString values unless decrypted', async () => {
    const { client } = await fresh();
    expect((await put(client, '/bi/prod/JWT_SECRET', 'value-one')).Version).toBe(1);
    await expect(put(client, '/bi/prod/JWT_SECRET', 'value-two')).rejects.toBeInstanceOf(
      ParameterAlreadyExists,
    );
    expect((await put(client, '/bi/prod/JWT_SECRET', 'value-two', true)).Version).toBe(2);

    const got = await client.send(
      new GetParameterCommand({ Name: '/bi/prod/JWT_SECRET', WithDecryption: true }),
    );
    expect(got.Parameter).toMatchObject({
      Name: '/bi/prod/JWT_SECRET',
      Type: 'SecureString',
      Value: 'value-two',
      Version: 2,
    });
    expect(got.Parameter?.LastModifiedDate).toBeInstanceOf(Date);
    expect(Math.abs((got.Parameter?.LastModifiedDate?.getTime() ?? 0) - Date.now())).toBeLessThan(60_000);
    expect(got.Parameter?.ARN).toBe('arn:aws:ssm:eu-west-1:123456789012:parameter/bi/prod/JWT_SECRET');

    const hidden = await client.send(new GetParameterCommand({ Name: '/bi/prod/JWT_SECRET' }));
    expect(hidden.Parameter?.Value).not.toContain('value-two');
    const v1 = await client.send(
      new GetParameterCommand({ Name: '/bi/prod/JWT_SECRET:1', WithDecryption: true }),
    );
    expect(v1.Parameter).toMatchObject({ Value: 'value-one', Version: 1, Selector: ':1' });

    await expect(client.send(new GetParameterCommand({ Name: '/bi/prod/NOPE' }))).rejects.toBeInstanceOf(
      ParameterNotFound,
    );
    await expect(
      client.send(new GetParameterCommand({ Name: '/bi/prod/JWT_SECRET:9' })),
    ).rejects.toBeInstanceOf(ParameterVersionNotFound);
    const many = await client.send(
      new GetParametersCommand({ Names: ['/bi/prod/JWT_SECRET', '/bi/prod/NOPE'], WithDecryption: true }),
    );
    expect(many.Parameters?.map((p) => p.Value)).toEqual(['value-two']);
    expect(many.InvalidParameters).toEqual(['/bi/prod/NOPE']);
  });

  it('pages GetParametersByPath (10 at most) and honours Recursive', async () => {
    const { client } = await fresh();
    for (let i = 0; i < 12; i++) await put(client, `/app/K${String(i).padStart(2, '0')}`, `v${i}`);
    await put(client, '/app/deeper/X', 'x');
    await put(client, '/other/Y', 'y');
    const names: string[] = [];
    let pages = 0;
    for await (const page of paginateGetParametersByPath(
      { client },
      { Path: '/app/', WithDecryption: true },
    )) {
      pages += 1;
      names.push(...(page.Parameters ?? []).map((p) => p.Name ?? ''));
    }
    expect(pages).toBe(2);
    expect(names).toHaveLength(12);
    const all: string[] = [];
    for await (const page of paginateGetParametersByPath({ client }, { Path: '/app', Recursive: true })) {
      all.push(...(page.Parameters ?? []).map((p) => p.Name ?? ''));
    }
    expect(all).toContain('/app/deeper/X');
    expect(all).not.toContain('/other/Y');
  });

  it('moves a label from version to version, refuses invalid labels, and shows them in the history', async () => {
    const { client } = await fresh();
    await put(client, '/p/A', 'old-value');
    await put(client, '/p/A', 'new-value', true);
    await client.send(
      new LabelParameterVersionCommand({ Name: '/p/A', ParameterVersion: 1, Labels: ['rekey-current'] }),
    );
    const moved = await client.send(
      new LabelParameterVersionCommand({
        Name: '/p/A',
        ParameterVersion: 2,
        Labels: ['rekey-current', 'aws-no', '1no'],
      }),
    );
    expect(moved.InvalidLabels).toEqual(['aws-no', '1no']);
    expect(moved.ParameterVersion).toBe(2);
    await client.send(
      new LabelParameterVersionCommand({ Name: '/p/A', ParameterVersion: 1, Labels: ['rekey-previous'] }),
    );
    const history = await client.send(new GetParameterHistoryCommand({ Name: '/p/A', WithDecryption: true }));
    expect(history.Parameters?.map((p) => [p.Version, p.Labels, p.Value])).toEqual([
      [1, ['rekey-previous'], 'old-value'],
      [2, ['rekey-current'], 'new-value'],
    ]);
    expect(history.Parameters?.[0]?.LastModifiedDate).toBeInstanceOf(Date);
    const byLabel = await client.send(
      new GetParameterCommand({ Name: '/p/A:rekey-previous', WithDecryption: true }),
    );
    expect(byLabel.Parameter?.Value).toBe('old-value');
  });

  it('keeps maxVersions versions and refuses to drop a labelled oldest one', async () => {
    const { client } = await fresh({ maxVersions: 2 });
    await put(client, '/m/A', 'a1');
    await put(client, '/m/A', 'a2', true);
    await put(client, '/m/A', 'a3', true); // drops version 1
    const h = await client.send(new GetParameterHistoryCommand({ Name: '/m/A' }));
    expect(h.Parameters?.map((p) => p.Version)).toEqual([2, 3]);
    await client.send(
      new LabelParameterVersionCommand({ Name: '/m/A', ParameterVersion: 2, Labels: ['keep'] }),
    );
    await expect(put(client, '/m/A', 'a4', true)).rejects.toBeInstanceOf(ParameterMaxVersionLimitExceeded);
  });

  it('throttling and 500s are retried by the SDK; access denied is not', async () => {
    const { ssm, client } = await fresh({ deny: { AKIDREADONLY: ['PutParameter'] } });
    ssm.faults.add({ kind: 'throttle', op: 'PutParameter' });
    ssm.faults.add({ kind: 'error500', op: 'PutParameter' });
    expect((await put(client, '/f/A', 'fault-value')).Version).toBe(1);
    expect(ssm.log().map((r) => [r.op, r.status, r.fault])).toEqual([
      ['PutParameter', 400, 'throttle'],
      ['PutParameter', 500, 'error500'],
      ['PutParameter', 200, undefined],
    ]);

    const readonly = new SSMClient({
      region: 'eu-west-1',
      endpoint: ssm.url,
      credentials: { accessKeyId: 'AKIDREADONLY', secretAccessKey: 'x' },
    });
    ssm.clearLog();
    await expect(put(readonly, '/f/A', 'other', true)).rejects.toMatchObject({
      name: 'AccessDeniedException',
    });
    expect(ssm.log()).toHaveLength(1);
  });

  it('refuses an unknown access key id', async () => {
    const { client } = await fresh({ accessKeyIds: ['AKIDKNOWN'] }, 'AKIDUNKNOWN');
    await expect(put(client, '/u/A', 'v')).rejects.toMatchObject({ name: 'UnrecognizedClientException' });
  });

  it('logs every request, and only the writes carry a value', async () => {
    const { ssm, client } = await fresh();
    const value = 'canary-7f3a9c1e';
    await put(client, '/c/A', value);
    await client.send(new GetParameterCommand({ Name: '/c/A', WithDecryption: true }));
    await client.send(new LabelParameterVersionCommand({ Name: '/c/A', Labels: ['rekey-current'] }));
    const log = ssm.log();
    expect(log.map((r) => r.op)).toEqual(['PutParameter', 'GetParameter', 'LabelParameterVersion']);
    expect(log.filter((r) => r.body.includes(value)).map((r) => r.op)).toEqual(['PutParameter']);
    expect(log.every((r) => r.write === (r.op === 'PutParameter'))).toBe(true);
  });
});
