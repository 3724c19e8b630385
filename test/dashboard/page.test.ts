/**
 * The page from a model, in pure code: the display state of each status (rotating now included), and
 * escaping of every string the state on disk can carry (a hostile value in each field of the model
 * never opens a tag or leaves an attribute).
 */
import { describe, expect, it } from 'vitest';
import { type Dashboard, displayState } from '../../src/dashboard/model.js';
import { renderPage } from '../../src/dashboard/page.js';

describe('displayState', () => {
  it.each([
    [{ state: 'ok', overdue: false, dueSoon: false, lastAttempt: { outcome: 'running' } }, 'rotating'],
    [{ state: 'rotation-failing', overdue: true, dueSoon: false }, 'needs-attention'],
    [{ state: 'needs-attention', overdue: false, dueSoon: false }, 'needs-attention'],
    [{ state: 'approval-outstanding', overdue: false, dueSoon: false }, 'needs-attention'],
    [{ state: 'never-rotated', overdue: true, dueSoon: false }, 'overdue'],
    [{ state: 'overdue', overdue: true, dueSoon: false }, 'overdue'],
    [{ state: 'due-soon', overdue: false, dueSoon: true }, 'due-soon'],
    [{ state: 'ok', overdue: false, dueSoon: false }, 'ok'],
  ] as const)('%j → %s', (status, want) => {
    expect(displayState(status as Parameters<typeof displayState>[0])).toBe(want);
  });
});

const H = `"'><script>alert(1)</script><img src=x onerror=alert(2)>`;

function hostile(): Dashboard {
  const now = '2026-12-05T03:00:00.000Z';
  return {
    status: {
      version: 1,
      stack: H,
      now,
      secrets: [
        {
          key: H,
          type: H,
          state: 'rotating',
          status: 'ok',
          lastRotated: now,
          ageDays: 3,
          maxAgeDays: 90,
          warnBeforeDays: 14,
          dueAt: now,
          dueInDays: 87,
          lastTrigger: H,
          lastAttempt: { id: H, kind: H, at: now, outcome: H, trigger: H },
          attention: H,
          approvalRequest: H,
        },
      ],
      audit: {
        file: H,
        ok: false,
        records: 3,
        head: { seq: 3, hash: H },
        broken: { seq: 2, reason: H },
        macsChecked: true,
        warnings: [H],
      },
      requests: [
        {
          id: H,
          status: 'approval outstanding',
          keys: [H],
          trigger: H,
          ticket: H,
          requester: H,
          created: now,
          expires: now,
          breakGlass: H,
          approvals: [{ role: H, principal: H }],
          missing: [{ role: H, why: H }],
          commands: [`rekey approve ${H}`],
        },
      ],
      warnings: [H],
    },
    rotations: {
      version: 1,
      stack: H,
      now,
      from: '2025-12-05T03:00:00.000Z',
      rotations: [
        {
          time: now,
          rotationId: H,
          kind: H,
          trigger: H,
          operator: H,
          ticket: H,
          requestId: H,
          breakGlass: H,
          approvals: [{ role: H, principal: H, fingerprint: H }],
          outcome: H,
          failedPhase: H,
          errorCode: H,
          verification: [{ name: H, ok: false, expected: H, detail: H }],
          attachments: [{ name: H }],
          keys: [H],
          steps: [{ id: H, state: H, ms: 12 }],
          durationMs: 12,
        },
      ],
      policy: [
        {
          key: H,
          maxAgeDays: 90,
          longestGapDays: 100,
          fromWindowStart: false,
          policyMet: false,
          notProven: false,
          intervals: [{ time: now, days: 100 }],
        },
      ],
    },
  } as unknown as Dashboard;
}

describe('renderPage', () => {
  it('policy: "not proven" when only the interval from the window\'s start is over max age, "no" otherwise', () => {
    const d = hostile() as unknown as { rotations: { policy: Array<Record<string, unknown>> } };
    const row = {
      key: 'JWT_SECRET',
      maxAgeDays: 90,
      longestGapDays: 365,
      fromWindowStart: true,
      intervals: [],
    };
    d.rotations.policy = [
      { ...row, policyMet: false, notProven: true },
      { ...row, key: 'API_KEY', policyMet: false, notProven: false },
    ];
    const page = renderPage(d as unknown as Dashboard);
    const cells = (key: string) => page.slice(page.indexOf(`data-key="${key}"`)).split('</tr>')[0] ?? '';
    expect(cells('JWT_SECRET')).toContain('not proven');
    expect(cells('API_KEY')).toContain('<strong>no</strong>');
  });

  it('escapes every string of the model: no tag opened, no attribute left', () => {
    const page = renderPage(hostile());
    expect(page).not.toMatch(/<script|<img/i);
    expect(page).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    // Every attribute value is closed by its own quote: no `'` or `"` from the data inside one.
    for (const m of page.matchAll(/\s([a-z-]+)="([^"]*)"/g)) expect(m[2]).not.toMatch(/[<>']/);
    expect(page).toContain('data-state="rotating"');
    expect(page).toContain('rotating now');
    expect(page).toContain('data-chain="broken" data-broken-at="2"');
    expect(page).toContain('class="badge break-glass"');
  });
});
