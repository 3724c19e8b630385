/** A small stack for the doctor's tests: a folder with an env file and rekey.yaml, optionally a git repo. */
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { type DoctorContext, doctorContext } from '../../src/doctor/context.js';
import type { Check, Finding } from '../../src/doctor/finding.js';
import { envValues } from '../../src/envfile/index.js';
import { CLI } from '../engine/stack.js';
import { type RunResult, runToEnd } from '../helpers/run.js';
import { tempDir } from '../helpers/tmp.js';

/** Random-looking values of full strength (fixed, so a failure is reproducible). */
export const STRONG = {
  JWT_SECRET: 'q7Yx2Lk9Vb3Nm8Pz4Rt6Wc1Hd5Jf0Gs2Qa7Ue9Io3Kl8Mn4Bv6Cx1Zs5Dr0Ft2Gy',
  API_SECRET_KEY: 'Zk4Pq8Wm2Xn6Lr0Ts3Vb7Hc1Jd5Fg9Ky2Ua6Eo0Ri4Tl8Nw3Mx7Qs1Cv5Bz9Dh',
  REDIS_PASSWORD: 'R3d1sVx9Kq2Lm7Np4Ws8Tz1Yb6Hc0Jf5Gd3Ua9Eo2Ri7Tl4Nw8Mx1Qs6Cv0Bz5D',
} as const;

export const CONFIG = `envFile: .env.production
secrets:
  - { key: JWT_SECRET, type: jwt, previousKey: JWT_SECRET_PREVIOUS }
  - { key: API_SECRET_KEY, type: api-key }
  - { key: REDIS_PASSWORD, type: generic }
`;

export function envText(values: Record<string, string>): string {
  return `${Object.entries(values)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n')}\n`;
}

export interface DoctorStack {
  readonly dir: string;
  readonly envFile: string;
  context(): Promise<DoctorContext>;
  /** Runs one check in-process. */
  check(check: Check<DoctorContext>): Promise<Finding[]>;
  /** `rekey doctor ARGS` through the built CLI. */
  cli(args: readonly string[]): Promise<RunResult>;
  git(...args: string[]): string;
}

/**
 * @example
 * const s = await doctorStack({ JWT_SECRET: 'short' });
 * const findings = await s.check(valuesCheck);
 */
export async function doctorStack(
  values: Record<string, string> = { ...STRONG, JWT_SECRET_PREVIOUS: '' },
  config = CONFIG,
): Promise<DoctorStack> {
  const dir = await tempDir('rekey-doctor-');
  const envFile = path.join(dir, '.env.production');
  await fs.writeFile(envFile, envText(values), { mode: 0o600 });
  await fs.writeFile(path.join(dir, 'rekey.yaml'), config);
  const configPath = path.join(dir, 'rekey.yaml');
  const env = {
    ...process.env,
    NO_COLOR: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_CONFIG_SYSTEM: '/dev/null',
  };
  const self: DoctorStack = {
    dir,
    envFile,
    async context() {
      const loaded = await loadConfig(configPath);
      return doctorContext(loaded, envValues(loaded.env!.doc), new Date());
    },
    async check(check) {
      return check.run(await self.context());
    },
    cli: (args) =>
      runToEnd(process.execPath, [CLI, '--config', configPath, 'doctor', ...args], { env, cwd: dir }),
    git: (...args) =>
      execFileSync(
        'git',
        ['-c', 'user.email=t@example.com', '-c', 'user.name=t', '-c', 'init.defaultBranch=main', ...args],
        { cwd: dir, env, encoding: 'utf8' },
      ),
  };
  return self;
}
