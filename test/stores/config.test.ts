/**
 * The `store:` schema (src/stores/config.ts) accepts DESIGN.md's examples as written and refuses
 * what would point rekey at the wrong place (a mount path with slashes or `..`, an SSM prefix that is
 * not a path or is reserved by AWS, a non-http address, unknown keys).
 */
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { storeSchema } from '../../src/config/store.js';

const yaml = (text: string) => storeSchema.safeParse(parse(text));

describe('store: schema', () => {
  it("accepts DESIGN.md's examples", () => {
    expect(
      yaml('{ type: vault-kv, address: "http://127.0.0.1:8200", mount: secret, path: bi/production }').data,
    ).toEqual({
      type: 'vault-kv',
      address: 'http://127.0.0.1:8200',
      mount: 'secret',
      path: 'bi/production',
    });
    expect(yaml('{ type: aws-ssm, prefix: /bi/production/, region: eu-west-1 }').success).toBe(true);
    expect(yaml('{ type: aws-secretsmanager, secretId: bi/production, region: eu-west-1 }').success).toBe(
      true,
    );
    expect(yaml('{ type: kubernetes, namespace: bi, name: bi-secrets, context: prod }').data).toEqual({
      type: 'kubernetes',
      namespace: 'bi',
      name: 'bi-secrets',
      context: 'prod',
    });
  });

  it('defaults the Vault mount to secret and the AppRole mount to approle', () => {
    const r = yaml('{ type: vault-kv, path: app, appRole: { roleId: r, secretIdFile: ./sid } }');
    expect(r.data).toMatchObject({ mount: 'secret', appRole: { mount: 'approle' } });
  });

  it.each([
    ['{ type: vault-kv, path: /bi/production }', 'path'],
    ['{ type: vault-kv, path: bi/../other }', 'path'],
    ['{ type: vault-kv, path: p, address: "ftp://vault" }', 'address'],
    ['{ type: vault-kv, path: p, token: inline-token }', ''],
    ['{ type: aws-ssm, prefix: bi/production }', 'prefix'],
    ['{ type: aws-ssm, prefix: /bi/production }', 'prefix'],
    ['{ type: aws-ssm, prefix: /aws/reserved/ }', 'prefix'],
    ['{ type: aws-secretsmanager }', 'secretId'],
    ['{ type: kubernetes, namespace: Bi, name: s }', 'namespace'],
    ['{ type: kubernetes, namespace: bi, name: ../s }', 'name'],
    ['{ type: kubernetes, namespace: bi }', 'name'],
    ['{ type: kubernetes, namespace: bi, name: s, kubeconfigData: x }', ''],
  ])('refuses %s', (text, field) => {
    const r = yaml(text);
    expect(r.success).toBe(false);
    if (field !== '') expect(r.error?.issues.map((i) => i.path.join('.'))).toContain(field);
  });
});
