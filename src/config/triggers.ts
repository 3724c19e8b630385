/** Why a rotation happens (recorded in the journal, the audit log and status). No zod here: the CLI
 * reads it at start-up. */
export const TRIGGERS = ['scheduled', 'compromise', 'release', 'personnel'] as const;
export type Trigger = (typeof TRIGGERS)[number];
