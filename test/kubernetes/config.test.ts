/**
 * `deploy:` is a command OR Kubernetes rollouts (DESIGN.md, "Kubernetes deploy"): the kubernetes form
 * loads, and every malformed section is ERR_CONFIG_INVALID with one line naming the path and what is
 * wrong (the default hint says what to do); the deployer the CLI builds for it restarts the workloads
 * and titles the plan's deploy step with them, in order.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { rekeyJsonSchema } from '../../src/config/json-schema.js';
import { loadConfig } from '../../src/config/load.js';
import { openDeployer } from '../../src/deploy/index.js';
import { buildPlan } from '../../src/engine/plan.js';
import { isRekeyError, type RekeyError } from '../../src/lib/errors.js';
import { tempDir } from '../helpers/tmp.js';

const ENV = 'JWT_SECRET=abcdefghijklmnopqrstuvwxyz123456\n';

async function load(deploy: string) {
  const dir = await tempDir('rekey-k8s-config-');
  await fs.writeFile(path.join(dir, '.env.production'), ENV, { mode: 0o600 });
  const file = path.join(dir, 'rekey.yaml');
  await fs.writeFile(
    file,
    `envFile: .env.production\nsecrets:\n  - { key: JWT_SECRET, type: jwt }\n${deploy}\n`,
  );
  return loadConfig(file);
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

describe('deploy.kubernetes in rekey.yaml', () => {
  it('loads the kubernetes form, defaults its timeout, and builds the Kubernetes deployer for it', async () => {
    const loaded = await load(
      'deploy:\n  kubernetes: { namespace: bi, workloads: [deployment/bi-api, sts/bi-worker], context: prod }',
    );
    expect(loaded.config.deploy).toEqual({
      kubernetes: {
        namespace: 'bi',
        workloads: ['deployment/bi-api', 'sts/bi-worker'],
        timeout: '5m',
        context: 'prod',
      },
    });
    const deployer = await openDeployer(loaded.config.deploy!, loaded.dir);
    expect(deployer.command).toBe(
      'rollout restart deployment/bi-api, then statefulset/bi-worker in namespace bi',
    );
    expect(deployer.timeoutMs).toBe(300_000);
    expect(typeof deployer.check).toBe('function');
    // The plan's deploy step names the workloads in order.
    const plan = buildPlan({
      secrets: [
        { key: 'JWT_SECRET', type: 'jwt', overlap: true, fileOnly: true, hasAfterDeploy: false, actions: [] },
      ],
      trigger: 'scheduled',
      deploy: { command: deployer.command, ...(deployer.title ? { title: deployer.title } : {}) },
      verifyChecks: 0,
    });
    expect(plan.steps.find((s) => s.id === 'deploy')?.title).toBe(
      'restart deployment/bi-api, then statefulset/bi-worker (namespace bi), each rolled out before the next, within 5m',
    );
  });

  it('loads externalSecret and the plan says what rekey does with it', async () => {
    const loaded = await load(
      'deploy:\n  kubernetes: { namespace: bi, workloads: [deployment/bi-api], externalSecret: bi-secrets }',
    );
    expect(loaded.config.deploy).toEqual({
      kubernetes: {
        namespace: 'bi',
        workloads: ['deployment/bi-api'],
        timeout: '5m',
        externalSecret: 'bi-secrets',
      },
    });
    const deployer = await openDeployer(loaded.config.deploy!, loaded.dir);
    // Before preflight read the ExternalSecret's target, the title names the ExternalSecret's own name.
    expect(deployer.title).toBe(
      'ExternalSecret bi-secrets: rekey writes the source store, forces a sync, waits for Secret bi-secrets, then restarts deployment/bi-api (namespace bi), each rolled out before the next, within 5m',
    );
  });

  it('keeps the command form as it was (a shell command, no preflight check)', async () => {
    const loaded = await load('deploy: { command: "bash scripts/deploy.sh deploy", timeout: 2m }');
    expect(loaded.config.deploy).toEqual({
      command: 'bash scripts/deploy.sh deploy',
      timeout: '2m',
      passEnv: [],
    });
    const deployer = await openDeployer(loaded.config.deploy!, loaded.dir);
    expect(deployer.command).toBe('bash scripts/deploy.sh deploy');
    expect(deployer.rollbackCommand).toBe('bash scripts/deploy.sh deploy');
    expect(deployer.check).toBeUndefined();
    expect(deployer.title).toBeUndefined();
  });

  it.each([
    [
      'both forms',
      'deploy: { command: "x", kubernetes: { namespace: bi, workloads: [deployment/a] } }',
      /^rekey\.yaml: deploy: command and kubernetes are both set: a deploy is a command or Kubernetes rollouts, not both$/,
    ],
    ['neither form', 'deploy: {}', /^rekey\.yaml: deploy: needs command .* or kubernetes/],
    ['not a mapping', 'deploy: "kubectl rollout restart"', /^rekey\.yaml: deploy: expected a mapping/],
    ['a non-string command', 'deploy: { command: 3 }', /^rekey\.yaml: deploy: command: expected string$/],
    [
      'no workloads',
      'deploy: { kubernetes: { namespace: bi, workloads: [] } }',
      /^rekey\.yaml: deploy\.kubernetes\.workloads: .*>=1 items/,
    ],
    [
      'a workload of another kind',
      'deploy: { kubernetes: { namespace: bi, workloads: [deployment/a, pod/x] } }',
      /^rekey\.yaml: deploy\.kubernetes\.workloads\[1\]: must be deployment\/<name> or statefulset\/<name>$/,
    ],
    [
      'a workload twice',
      'deploy: { kubernetes: { namespace: bi, workloads: [deployment/a, deploy/a] } }',
      /^rekey\.yaml: deploy\.kubernetes\.workloads: names a workload twice/,
    ],
    [
      'no namespace',
      'deploy: { kubernetes: { workloads: [deployment/a] } }',
      /^rekey\.yaml: deploy: kubernetes\.namespace: expected string \(missing\)$/,
    ],
    [
      'a command option beside kubernetes',
      'deploy: { kubernetes: { namespace: bi, workloads: [deployment/a] }, rollback: "x" }',
      /^rekey\.yaml: deploy: unknown key "rollback"$/,
    ],
    [
      'an unknown key inside kubernetes',
      'deploy: { kubernetes: { namespace: bi, workloads: [deployment/a], replicas: 2 } }',
      /^rekey\.yaml: deploy\.kubernetes: unknown key "replicas"$/,
    ],
    [
      'an externalSecret that is no object name',
      'deploy: { kubernetes: { namespace: bi, workloads: [deployment/a], externalSecret: "Bi_Secrets" } }',
      /^rekey\.yaml: deploy\.kubernetes\.externalSecret: must be a DNS-1123 subdomain \(an object name\)$/,
    ],
  ])('refuses %s: ERR_CONFIG_INVALID, one line what, a hint what to do', async (_name, deploy, message) => {
    const e = await failure(load(deploy));
    expect(e.code).toBe('ERR_CONFIG_INVALID');
    expect(e.message).toMatch(message);
    expect(e.message).not.toContain('\n');
    expect(e.hint).toMatch(/Fix rekey\.yaml/);
  });

  it('the JSON Schema offers both forms', () => {
    const deploy = (rekeyJsonSchema().properties as Record<string, { anyOf?: unknown[] }>).deploy;
    expect(JSON.stringify(deploy?.anyOf?.[0])).toContain('"command"');
    expect(JSON.stringify(deploy?.anyOf?.[1])).toContain('"kubernetes"');
    expect(JSON.stringify(deploy?.anyOf?.[1])).toContain('"workloads"');
    expect(JSON.stringify(deploy?.anyOf?.[1])).toContain('"externalSecret"');
  });
});
