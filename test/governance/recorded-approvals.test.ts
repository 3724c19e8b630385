/**
 * What a rotation's audit record names as approvals when `recover` writes it (the rotating process is
 * gone, its request is not): only the verified approvals, each with the fingerprint of the key that
 * signed, never the request file's entries as written.
 */
import { describe, expect, it } from 'vitest';
import { recordedApprovals } from '../../src/governance/record.js';
import { addApprovalByHand, EMAIL, signDigest, useGovStacks } from './helpers.js';

const { stack } = useGovStacks();

describe('recordedApprovals', () => {
  it('records only verified identities (principal + key fingerprint), not a forged entry', async () => {
    const s = await stack();
    const r = await s.request();
    await s.approve(r.id, 'security-lead', 'alice');
    // eve (not in allowed_signers) signs and writes bob's name on it.
    await addApprovalByHand(s.requestFile(r.id), {
      role: 'devops-lead',
      principal: EMAIL.bob,
      signature: signDigest(s.key('eve'), r.digest, 'devops-lead', EMAIL.bob),
    });
    expect(await recordedApprovals(await s.loaded(), r.id)).toEqual({
      approvals: [
        { role: 'security-lead', principal: EMAIL.alice, fingerprint: expect.stringMatching(/^SHA256:/) },
      ],
      // The requester as verified from the request's signature (carol signed it).
      requestedBy: { principal: EMAIL.carol, fingerprint: expect.stringMatching(/^SHA256:/) },
    });
  });
});
