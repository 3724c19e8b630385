/**
 * rekey's SCRAM-SHA-256 verifier equals the one PostgreSQL itself computes for the same password,
 * salt and iteration count, and logging in with the password works against it.
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { asSuperuser } from '../../../demo/stack/postgres-roles.js';
import * as demoScram from '../../../demo/stack/scram.js';
import { SCRAM_ITERATIONS, scramVerifier } from '../../../src/targets/postgres/scram.js';
import { usePostgres } from '../../helpers/services.js';
import { attempt } from './helpers.js';

describe('scramVerifier', () => {
  const server = usePostgres();

  it('has the SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey> form, deterministic per salt', () => {
    const salt = Buffer.alloc(16, 7);
    expect(scramVerifier('pencil', 4096, salt)).toBe(scramVerifier('pencil', 4096, salt));
    expect(scramVerifier('pencil', 4096, salt)).toMatch(
      /^SCRAM-SHA-256\$4096:[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$/,
    );
    expect(scramVerifier('pencil')).not.toBe(scramVerifier('pencil'));
    expect(SCRAM_ITERATIONS).toBe(4096);
  });

  it('is what demo/stack/scram.ts exports (a re-export, not a copy)', () => {
    expect(demoScram.scramVerifier).toBe(scramVerifier);
  });

  it('equals the verifier the server computes from the plaintext (same salt and iterations)', async () => {
    // A throwaway value: this test alone lets the server hash a plaintext, to compare with.
    const password = 'Kq2Lm9Xz4Rt6Vb8Nw3Hy5Jd8Fh2Ks6Lp';
    const stored = await asSuperuser(server(), async (c) => {
      await c.query(`CREATE ROLE scram_known LOGIN PASSWORD ${pg.escapeLiteral(password)}`);
      const { rows } = await c.query<{ v: string }>(
        "SELECT rolpassword AS v FROM pg_authid WHERE rolname = 'scram_known'",
      );
      return rows[0]?.v ?? '';
    });
    const match = /^SCRAM-SHA-256\$(\d+):([^$]+)\$/.exec(stored);
    expect(match).not.toBeNull();
    const [, iterations, salt] = match!;
    expect(scramVerifier(password, Number(iterations), Buffer.from(salt!, 'base64'))).toBe(stored);
  });

  it('lets the password log in when set as the verifier, and only that password', async () => {
    const password = 'Vb8Nw3Hy5Jd8Fh2Ks6LpKq2Lm9Xz4Rt6';
    await asSuperuser(server(), (c) =>
      c.query(`CREATE ROLE scram_login LOGIN PASSWORD ${pg.escapeLiteral(scramVerifier(password, 8192))}`),
    );
    expect(await attempt(server(), 'scram_login', password, 'postgres')).toBe('ok');
    expect(await attempt(server(), 'scram_login', `${password}x`, 'postgres')).toBe('28P01');
  });
});
