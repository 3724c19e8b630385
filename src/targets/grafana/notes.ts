/** What `rekey plan` says about a Grafana target: the actions (describe) and the notes (inspect). No I/O. */
import type { GenerateSpec } from '../../lib/generate.js';
import type { PlanNote } from '../types.js';
import { type GrafanaEndpoint, isLoopback } from './endpoint.js';

/**
 * The actions of a Grafana rotation, for `describe()`.
 *
 * @example
 * actionsOf(ep); // ['PUT http://127.0.0.1:3000/api/user/password as admin …', …]
 */
export function actionsOf(ep: GrafanaEndpoint): string[] {
  return [
    `PUT ${ep.display}/api/user/password as ${ep.user} (basic auth with the current password), staged last, right before the env file is written: Grafana keeps one password per user`,
    `test: GET ${ep.display}/api/user with the new password`,
    'finish: nothing left to retire (the change replaced the old password); keeps the ids and names of the service-account tokens in the state directory',
    'on --trigger compromise: revokes every session of the user, and reports the service-account tokens created since the previous rotation (deletes them with deleteTokensOnCompromise)',
  ];
}

/**
 * The plan notes: where and as whom, a warning for plain http off this machine, the first-start trap,
 * and the alphabet Grafana's strong password policy needs when the configured one lacks a symbol.
 *
 * @example
 * planNotes(ep, specFor(secret));
 */
export function planNotes(ep: GrafanaEndpoint, spec: GenerateSpec): PlanNote[] {
  const notes: PlanNote[] = [
    { level: 'info', text: `Grafana API ${ep.display}, user ${ep.user}` },
    {
      level: 'info',
      text: `GF_SECURITY_ADMIN_PASSWORD (admin_password) is read only on Grafana's first start: rekey changes the password through the API, then writes ${ep.key}`,
    },
  ];
  if (ep.base.protocol === 'http:' && !isLoopback(ep.base)) {
    notes.push({
      level: 'warn',
      text: `${ep.display} is plain http to another host: the current and new passwords cross the network in clear; use https://`,
    });
  }
  const symbol = spec.kind === 'chars' && /[^A-Za-z0-9]/.test(spec.alphabet);
  if (!symbol || spec.kind !== 'chars' || spec.everyClass !== true) {
    notes.push({
      level: 'info',
      text: `if Grafana enforces [auth.basic] password_policy, it will refuse the new password: set an alphabet with symbols and everyClass: true for ${ep.key}`,
    });
  }
  return notes;
}
