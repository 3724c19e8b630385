/**
 * The identity of a stack a change request is bound to: a random id created once in the stack's
 * state directory (file `stack-id`, never rewritten), the env file's real path and the host. All
 * three are inside the request's signed digest, so a request approved for one stack is refused on
 * another, even one with the same name, a copy of the same folder, or the same folder on another host.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import type { LoadedConfig } from '../../config/load.js';
import { claimStackState } from '../../config/stack-state.js';
import { STORE_TYPES } from '../../config/store.js';
import { ensurePrivateDir, readIfExists, writeFileExclusive } from '../../lib/fsx.js';

export interface StackBinding {
  readonly stackId: string;
  readonly envFile: string;
  readonly host: string;
}

const ID = /^[0-9a-f]{32}$/;

function idFile(loaded: LoadedConfig): string {
  return path.join(loaded.stateDir, 'stack-id');
}

/**
 * This stack's id, or undefined when none was created yet (read-only: for checks).
 *
 * @example
 * await readStackId(loaded); // '9f1c…' (32 hex digits)
 */
export async function readStackId(loaded: LoadedConfig): Promise<string | undefined> {
  const id = (await readIfExists(idFile(loaded)))?.trim();
  return id !== undefined && ID.test(id) ? id : undefined;
}

/**
 * This stack's binding, creating its id on first use (exclusively: two processes agree on one).
 *
 * @example
 * const { stackId, envFile, host } = await stackBinding(loaded);
 */
export async function stackBinding(loaded: LoadedConfig): Promise<StackBinding> {
  let id = await readStackId(loaded);
  if (id === undefined) {
    await claimStackState(loaded);
    await ensurePrivateDir(loaded.stateDir);
    await writeFileExclusive(idFile(loaded), `${randomBytes(16).toString('hex')}\n`, 0o600);
    id = await readStackId(loaded);
    if (id === undefined) throw new Error(`${idFile(loaded)} is not a stack id`);
  }
  return { stackId: id, envFile: loaded.envRealPath, host: os.hostname() };
}

/** Whether a binding's `envFile` is a store stack's identity (config/store.ts `storeIdentity`: `vault-kv:…`). */
function isStore(envFile: string): boolean {
  return STORE_TYPES.some((t) => envFile.startsWith(`${t}:`));
}

/**
 * What a binding's `envFile` names, in words: a store stack's store, or an env file.
 *
 * @example
 * boundTo('aws-ssm:eu-west-1:/bi/production/'); // 'the store aws-ssm:eu-west-1:/bi/production/'
 */
function boundTo(envFile: string): string {
  return isStore(envFile) ? `the store ${envFile}` : `the env file ${envFile}`;
}

/**
 * Why a request's binding is not this stack's (undefined when it is).
 *
 * @example
 * bindingMismatch(request, { stackId, envFile, host }); // 'it is for the env file /srv/a/.env, not /srv/b/.env'
 */
export function bindingMismatch(
  request: { readonly stackId?: string; readonly envFile?: string; readonly host?: string },
  here: { readonly stackId: string | undefined; readonly envFile: string; readonly host: string },
): string | undefined {
  if (request.stackId === undefined || request.envFile === undefined || request.host === undefined) {
    return 'it was made by an older rekey and is not bound to one stack; create a new request';
  }
  if (request.host !== here.host) return `it is for host ${request.host}, not ${here.host}`;
  if (request.envFile !== here.envFile)
    return isStore(request.envFile) || isStore(here.envFile)
      ? `it is for ${boundTo(request.envFile)}, not ${boundTo(here.envFile)}`
      : `it is for the env file ${request.envFile}, not ${here.envFile}`;
  if (request.stackId !== here.stackId) {
    return `it is for stack id ${request.stackId}, not this stack's ${here.stackId ?? '(none yet)'} (a copy of another stack's state?)`;
  }
  return undefined;
}
