/**
 * The `Deployer` the config's `deploy:` section names: the shell commands (src/deploy/deployer.ts) or
 * Kubernetes rollouts (src/deploy/kubernetes.ts, loaded on demand: client-node is only needed by a
 * stack that deploys to Kubernetes).
 */
import type { DeployConfig } from '../config/schema.js';
import type { StoreConfig } from '../config/store.js';
import type { Deployer } from '../engine/ports.js';
import { createDeployer } from './deployer.js';

/**
 * The deployer for `deploy:`; no call to a cluster is made here (preflight calls its `check`).
 *
 * @example
 * const deployer = await openDeployer(loaded.config.deploy, loaded.dir, loaded.config.store);
 */
export async function openDeployer(
  deploy: DeployConfig,
  cwd: string,
  store?: StoreConfig,
): Promise<Deployer> {
  if ('kubernetes' in deploy) {
    const { createKubernetesDeployer } = await import('./kubernetes.js');
    // The Secret the rotation writes: Reloader restarts the workloads that read it on its own.
    return createKubernetesDeployer(
      deploy.kubernetes,
      store?.type === 'kubernetes' ? { secret: { namespace: store.namespace, name: store.name } } : {},
    );
  }
  return createDeployer(deploy, cwd);
}
