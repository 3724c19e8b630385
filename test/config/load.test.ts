import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { rekeyJsonSchema } from '../../src/config/json-schema.js';
import { loadConfig, loadStackConfig } from '../../src/config/load.js';
import { isRekeyError, type RekeyError } from '../../src/lib/errors.js';
import { makeOwnedDir, removeOwnedDir } from '../../src/lib/owned-dir.js';
import { captureStderr } from '../envfile/helpers.js';

let dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.map((d) => removeOwnedDir(d)));
  dirs = [];
});

async function setup(
  yaml: string,
  env = 'JWT_SECRET=abcdefghijklmnopqrstuvwxyz123456\nPOSTGRES_USER=bi\nPG_PORT=5433\n',
) {
  const dir = await makeOwnedDir('rekey-config-');
  dirs.push(dir);
  await fs.writeFile(path.join(dir, '.env.production'), env, { mode: 0o600 });
  await fs.writeFile(path.join(dir, 'rekey.yaml'), yaml);
  return path.join(dir, 'rekey.yaml');
}

async function failure(p: Promise<unknown>): Promise<RekeyError> {
  try {
    await p;
  } catch (e) {
    if (isRekeyError(e)) return e;
    throw e;
  }
  throw new Error('expected a RekeyError');
}

describe('loadConfig', () => {
  it('loads, applies defaults, resolves paths and ${NAME} from the env file then the environment', async () => {
    process.env.REKEY_TEST_DB = 'analytics';
    const file = await setup(`envFile: .env.production
secrets:
  - { key: JWT_SECRET, type: jwt, previousKey: JWT_SECRET_PREVIOUS }
  - { key: POSTGRES_PASSWORD, type: postgres, user: "\${POSTGRES_USER}", database: "\${REKEY_TEST_DB}", port: 5432 }
`);
    const loaded = await loadConfig(file);
    expect(loaded.config.secrets[1]).toMatchObject({
      user: 'bi',
      database: 'analytics',
      host: '127.0.0.1',
      strategy: 'single',
    });
    expect(loaded.config.policy).toEqual({ maxAge: '90d', warnBefore: '14d' });
    expect(loaded.envFile).toBe(path.join(path.dirname(file), '.env.production'));
    expect(loaded.stateDir).toBe(path.join(path.dirname(file), '.rekey'));
    expect(loaded.stack).toBe(path.basename(path.dirname(file)));
  });

  it.each([
    [
      'an unknown key (typo)',
      'envFile: .env.production\nsecrets:\n  - { key: JWT_SECRET, type: jwt, previusKey: X }\n',
      /secrets\[0\]: unknown key "previusKey"/,
    ],
    [
      'a wrong type',
      'envFile: .env.production\nsecrets:\n  - { key: P, type: redis, port: "6379" }\n',
      /secrets\[0\]\.port: expected number/,
    ],
    [
      'an unknown secret type',
      'envFile: .env.production\nsecrets:\n  - { key: P, type: mysql }\n',
      /secrets\[0\]\.type: expected type to be one of/,
    ],
    [
      'a bad duration',
      'envFile: .env.production\npolicy: { maxAge: 3 months }\nsecrets:\n  - { key: JWT_SECRET, type: jwt }\n',
      /policy\.maxAge: expected a duration/,
    ],
    ['no secrets', 'envFile: .env.production\nsecrets: []\n', /secrets: /],
    ['broken YAML', 'envFile: .env.production\nsecrets: [ { key: X\n', /rekey\.yaml line \d+/],
    [
      'a key managed twice',
      'envFile: .env.production\nsecrets:\n  - { key: A, type: generic }\n  - { key: A, type: generic }\n',
      /already managed by secrets\[0\]/,
    ],
    [
      'alternating without roles',
      'envFile: .env.production\nsecrets:\n  - { key: P, type: postgres, user: u, strategy: alternating }\n',
      /secrets\[0\]\.roles: required/,
    ],
    [
      'two session purge modes',
      'envFile: .env.production\nsecrets:\n  - { key: R, type: redis }\nsessions: { redis: { patterns: ["s:*"], flushAll: true } }\n',
      /exactly one of/,
    ],
  ])('refuses %s with ERR_CONFIG_INVALID naming the path', async (_name, yaml, message) => {
    const e = await failure(loadConfig(await setup(yaml)));
    expect(e.code).toBe('ERR_CONFIG_INVALID');
    expect(e.exitCode).toBe(2);
    expect(e.message).toMatch(message);
    expect(e.message.split('\n')).toHaveLength(1);
  });

  describe('a store stack (store:)', () => {
    const yaml = (extra = '') =>
      `store: { type: aws-ssm, prefix: /bi/production/, region: "\${STORE_REGION}" }\nsecrets:\n  - { key: JWT_SECRET, type: jwt }\n  - { key: P, type: postgres, user: "\${POSTGRES_USER}" }\n${extra}`;

    it('loads without envFile: its identity is the store, ${NAME} reads the store then the environment', async () => {
      process.env.STORE_REGION = 'eu-west-1';
      const asked: string[][] = [];
      try {
        const loaded = await loadConfig(await setup(yaml()), {
          openStore: (store) => async () => {
            asked.push([store.type, [...((store as { region?: string }).region ?? '')].join('')]);
            return new Map([['POSTGRES_USER', 'from_store']]);
          },
        });
        expect(loaded.envFile).toBeUndefined();
        expect(loaded.env).toBeUndefined();
        expect(loaded.config.store).toMatchObject({ type: 'aws-ssm', region: 'eu-west-1' });
        expect(loaded.config.secrets[1]).toMatchObject({ user: 'from_store' });
        expect(loaded.envRealPath).toBe('aws-ssm:eu-west-1:/bi/production/');
        expect(loaded.stackKey).toMatch(/^production-[0-9a-f]{12}$/);
        expect(asked).toEqual([['aws-ssm', 'eu-west-1']]);
        expect(await loaded.readStore?.()).toEqual(new Map([['POSTGRES_USER', 'from_store']]));
      } finally {
        delete process.env.STORE_REGION;
      }
    });

    it('keeps envFile: beside store: unread (rekey migrate leaves it), and its identity the store', async () => {
      process.env.STORE_REGION = 'eu-west-1';
      process.env.POSTGRES_USER_FOR_TEST = 'x';
      try {
        const file = await setup(`envFile: .env.missing\n${yaml().replace('${POSTGRES_USER}', 'bi')}`);
        const loaded = await loadConfig(file);
        expect(loaded.envFile).toBeUndefined();
        expect(loaded.envRealPath).toBe('aws-ssm:eu-west-1:/bi/production/');
      } finally {
        delete process.env.STORE_REGION;
        delete process.env.POSTGRES_USER_FOR_TEST;
      }
    });

    it('refuses a ${KEY} of a managed secret, and never asks the store for it', async () => {
      let asked = false;
      const e = await failure(
        loadConfig(
          await setup(
            'store: { type: aws-ssm, prefix: /bi/ }\nsecrets:\n  - { key: JWT_SECRET, type: jwt }\ndeploy: { command: "echo ${JWT_SECRET}" }\n',
          ),
          {
            openStore: () => async () => {
              asked = true;
              return new Map();
            },
          },
        ),
      );
      expect(e.code).toBe('ERR_CONFIG_INVALID');
      expect(asked).toBe(false);
    });
  });

  it('an unset ${NAME} is ERR_CONFIG_INTERPOLATION naming where', async () => {
    const e = await failure(
      loadConfig(
        await setup(
          'envFile: .env.production\nsecrets:\n  - { key: P, type: postgres, user: "${NOPE_NOT_SET}" }\n',
        ),
      ),
    );
    expect(e.code).toBe('ERR_CONFIG_INTERPOLATION');
    expect(e.message).toMatch(/secrets\[0\]\.user: \$\{NOPE_NOT_SET\} is not set/);
  });

  it('refuses ${KEY} of a managed secret anywhere in the config (it would reach argv and logs)', async () => {
    const e = await failure(
      loadConfig(
        await setup(
          'envFile: .env.production\nsecrets:\n  - { key: JWT_SECRET, type: jwt }\ndeploy: { command: "deploy --token ${JWT_SECRET}" }\n',
        ),
      ),
    );
    expect(e.code).toBe('ERR_CONFIG_INVALID');
    expect(e.message).toMatch(/deploy\.command: \$\{JWT_SECRET\} would copy a managed secret/);
    expect(e.message).not.toContain('abcdefghijklmnopqrstuvwxyz123456');
    expect(e.hint).toMatch(/passEnv/);
  });

  it("a type's secret keys (an admin password, read only) are refused as references before any lookup", async () => {
    const asked: string[][] = [];
    const lookup = async (_file: string, names: ReadonlySet<string>) => {
      asked.push([...names]);
      return new Map([['APP_USER', 'bi_app']]);
    };
    const secret =
      '{ key: PG_PASSWORD, type: postgres, user: app, admin: { user: adm, passwordKey: PG_ADMIN } }';
    const deploy = 'deploy: { command: "deploy $' + '{APP_USER} $' + '{PG_ADMIN}" }';
    const e = await failure(
      loadStackConfig(await setup(`envFile: .env.production\nsecrets:\n  - ${secret}\n${deploy}\n`), lookup),
    );
    expect(e.message).toMatch(/deploy\.command: \$\{PG_ADMIN\} would copy a managed secret/);
    expect(asked).toEqual([['APP_USER']]);
    // A field the type's ownedKeys reads, malformed (null admin): refused by validation, not a crash.
    const malformed = '{ key: PG_PASSWORD, type: postgres, user: app, admin: null }';
    const bad = await failure(
      loadStackConfig(await setup(`envFile: .env.production\nsecrets:\n  - ${malformed}\n`), lookup),
    );
    expect(bad.code).toBe('ERR_CONFIG_INVALID');
    expect(bad.message).toMatch(/secrets\[0\]\.admin/);
  });

  it('a missing config is ERR_CONFIG_NOT_FOUND', async () => {
    const e = await failure(loadConfig('/nonexistent/rekey.yaml'));
    expect(e.code).toBe('ERR_CONFIG_NOT_FOUND');
  });

  it('a weak generation spec is refused when targets are built', async () => {
    const { createTarget } = await import('../../src/targets/index.js');
    const loaded = await loadConfig(
      await setup('envFile: .env.production\nsecrets:\n  - { key: JWT_SECRET, type: generic, length: 12 }\n'),
    );
    const e = await failure(
      Promise.resolve().then(() =>
        createTarget(loaded.config.secrets[0]!, { env: new Map(), configDir: '/' }).then(() => {}),
      ),
    );
    expect(e.code).toBe('ERR_SECRET_WEAK');
  });

  it('the committed JSON Schema is the one the zod schema generates', async () => {
    const committed = JSON.parse(
      await fs.readFile(new URL('../../schema/rekey.schema.json', import.meta.url), 'utf8'),
    );
    expect(committed).toEqual(rekeyJsonSchema());
  });
});

describe('the env file mode warning follows envFileMode', () => {
  const yaml = (mode: string) => `envFile: .env.production
envFileMode: "${mode}"
secrets:
  - { key: JWT_SECRET, type: jwt }
`;
  it('is silent for a 0640 file when envFileMode is 0640, and asks for chmod 640 when it is wider', async () => {
    const stderr = captureStderr();
    const file = await setup(yaml('0640'));
    await fs.chmod(path.join(path.dirname(file), '.env.production'), 0o640);
    await loadConfig(file);
    expect(stderr.text()).not.toMatch(/open to group or others/);
    const wider = await setup(yaml('0640'));
    const env = path.join(path.dirname(wider), '.env.production');
    await fs.chmod(env, 0o644);
    await loadConfig(wider);
    expect(stderr.text()).toMatch(new RegExp(`${env} is open to group or others \\(mode 0644\\).*chmod 640`));
  });

  it('still warns about a 0640 file under the default 0600', async () => {
    const stderr = captureStderr();
    const file = await setup('envFile: .env.production\nsecrets:\n  - { key: JWT_SECRET, type: jwt }\n');
    await fs.chmod(path.join(path.dirname(file), '.env.production'), 0o640);
    await loadConfig(file);
    expect(stderr.text()).toMatch(/open to group or others \(mode 0640\).*chmod 600/);
  });
});
