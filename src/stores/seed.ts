/**
 * What `rekey migrate` needs of a managed store: a first copy of the env file's values into it. Each
 * store implements it beside its adapter (src/stores/<type>/seed.ts) with the adapter's own client;
 * the rotation protocol (the Store port) is not involved: nothing is rotated, values are copied.
 */
import type { Values } from '../engine/ports.js';

/**
 * Copies values into a store: read what it holds now, then write with compare-and-set against that
 * read (a new secret or parameter is created only if it still does not exist).
 *
 * @example
 * const seeder = await vaultKvSeeder({ type: 'vault-kv', mount: 'secret', path: 'bi/production' });
 * await seeder.check();
 * const held = await seeder.read(['JWT_SECRET']); // Map { 'JWT_SECRET' => '…' } or empty
 * await seeder.write({ JWT_SECRET: value });
 */
export interface StoreSeeder {
  /** Where the values go, one line, no secret (`Vault http://… secret/data/bi/production`). */
  readonly name: string;
  /** Read-only: the store is reachable and suitable, the credentials accepted. */
  check(): Promise<void>;
  /** The values the store holds now for `keys` (keys it does not hold are absent). */
  read(keys: readonly string[]): Promise<Map<string, string>>;
  /**
   * Writes `values` (other fields of the secret kept), compare-and-set against the last `read`:
   * ERR_STORE_CONFLICT when another writer got there in between. Returns one line for the user.
   */
  write(values: Values): Promise<string>;
}
