/** RK5xx: a compose file beside the env file that interpolates `$` values or bind-mounts the env file; RK701 sessions. */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { composeCheck } from '../../src/doctor/checks/compose.js';
import { sessionsCheck } from '../../src/doctor/checks/sessions.js';
import { runDoctor } from '../../src/doctor/run.js';
import { CONFIG, doctorStack, STRONG } from './helpers.js';

const DOLLAR = {
  ...STRONG,
  JWT_SECRET_PREVIOUS: '',
  REDIS_PASSWORD: 'R3d1s$Vx9Kq2Lm7Np4Ws8Tz1Yb6Hc0Jf5Gd3Ua9Eo2Ri7Tl4Nw8Mx1Qs6Cv0Bz5D',
};

describe('doctor: compose', () => {
  it('RK501: env_file without format raw and a value with $; not with format raw, not without $', async () => {
    const s = await doctorStack(DOLLAR);
    const compose = path.join(s.dir, 'compose.yaml');
    await fs.writeFile(compose, 'services:\n  api:\n    image: bi-api\n    env_file: .env.production\n');
    const found = await s.check(composeCheck);
    expect(found.map((f) => `${f.rule} ${f.keys}`)).toEqual(['RK501 REDIS_PASSWORD']);
    expect(found[0]!.location?.file).toBe(compose);
    await fs.writeFile(
      compose,
      'services:\n  api:\n    image: bi-api\n    env_file:\n      - path: ./.env.production\n        format: raw\n',
    );
    expect(await s.check(composeCheck)).toEqual([]);
    const plain = await doctorStack();
    await fs.writeFile(
      path.join(plain.dir, 'compose.yaml'),
      'services:\n  api:\n    env_file: [.env.production]\n',
    );
    expect(await plain.check(composeCheck)).toEqual([]);
  });

  it('RK502: the env file bind-mounted as a single file (short and long syntax); a folder mount is fine', async () => {
    const s = await doctorStack();
    const compose = path.join(s.dir, 'docker-compose.yml');
    await fs.writeFile(compose, 'services:\n  api:\n    volumes:\n      - ./.env.production:/app/.env:ro\n');
    expect((await s.check(composeCheck)).map((f) => f.rule)).toEqual(['RK502']);
    await fs.writeFile(
      compose,
      'services:\n  worker:\n    volumes:\n      - { type: bind, source: ./.env.production, target: /app/.env }\n',
    );
    expect((await s.check(composeCheck)).map((f) => f.rule)).toEqual(['RK502']);
    await fs.writeFile(compose, 'services:\n  api:\n    volumes:\n      - ./:/app/config:ro\n');
    expect(await s.check(composeCheck)).toEqual([]);
  });

  it('RK503: a service reading the env file that the deploy (command or its script) does not restart', async () => {
    const withDeploy = (command: string) => `${CONFIG}deploy: { command: ${JSON.stringify(command)} }\n`;
    const compose =
      'services:\n  api:\n    env_file: .env.production\n  worker:\n    env_file: .env.production\n  web:\n    image: nginx\n';
    const named = await doctorStack(undefined, withDeploy('docker compose up -d --force-recreate api'));
    await fs.writeFile(path.join(named.dir, 'compose.yaml'), compose);
    const found = await named.check(composeCheck);
    expect(found.map((f) => f.rule)).toEqual(['RK503']);
    expect(found[0]!.message).toBe(
      'service worker reads .env.production but the deploy command restarts only api',
    );

    const script = await doctorStack(undefined, withDeploy('bash scripts/deploy.sh'));
    await fs.writeFile(path.join(script.dir, 'compose.yaml'), compose);
    await fs.mkdir(path.join(script.dir, 'scripts'));
    await fs.writeFile(
      path.join(script.dir, 'scripts', 'deploy.sh'),
      'set -e\ndocker-compose -f compose.yaml restart worker api\n',
    );
    expect(await script.check(composeCheck)).toEqual([]);

    const all = await doctorStack(undefined, withDeploy('docker compose up -d'));
    await fs.writeFile(path.join(all.dir, 'compose.yaml'), compose);
    expect(await all.check(composeCheck)).toEqual([]);
  });

  it('an invalid compose file is "could not check compose", not a crash', async () => {
    const s = await doctorStack();
    await fs.writeFile(path.join(s.dir, 'compose.yaml'), 'services: [unclosed\n');
    const report = await runDoctor(await s.context(), { only: ['RK501', 'RK502'] });
    expect(report.findings.map((f) => f.rule)).toEqual(['RK901']);
    expect(report.findings[0]!.message).toMatch(/^could not check compose: /);
  });
});

describe('doctor: sessions', () => {
  it('RK701 for a pattern purge, nothing for flushDb', async () => {
    const redis = '  - { key: SESSION_REDIS_PASSWORD, type: redis }\n';
    const values = {
      ...STRONG,
      JWT_SECRET_PREVIOUS: '',
      SESSION_REDIS_PASSWORD: STRONG.API_SECRET_KEY.split('').reverse().join(''),
    };
    const pattern = await doctorStack(
      values,
      `${CONFIG}${redis}sessions: { redis: { patterns: ['session:*'] } }\n`,
    );
    expect((await pattern.check(sessionsCheck)).map((f) => f.rule)).toEqual(['RK701']);
    const flush = await doctorStack(values, `${CONFIG}${redis}sessions: { redis: { flushDb: 1 } }\n`);
    expect(await flush.check(sessionsCheck)).toEqual([]);
  });
});
