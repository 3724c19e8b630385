/** Options of the governance hooks, and the "change control is off" warning. */
import type { LoadedConfig } from '../config/load.js';
import type { AttachmentSummary } from './attachments/index.js';

export interface GovernanceOptions {
  readonly command: 'rotate' | 'rollback' | 'recover';
  /** Who runs the command (see `operatorIdentity`). */
  readonly operator: string;
  readonly attachments?: readonly AttachmentSummary[];
  /** `rekey schedule`: authorize without a request when every key is `unattended: true` (a standing approval). */
  readonly unattended?: boolean;
  readonly warn?: (message: string) => void;
  readonly now?: () => Date;
  /**
   * `rekey rollback`: every key the rolled-back secrets write with the value it returns to, and how
   * the source is named; a request must have been made for exactly these values (return-to.ts).
   */
  readonly returnTo?: { readonly written: ReadonlyMap<string, string>; readonly what: string };
}

/**
 * The warning `plan` and `rotate` print when rekey.yaml has no `approvals:` section.
 *
 * @example
 * changeControlWarning(loaded); // 'change control is off: …' or undefined
 */
export function changeControlWarning(loaded: LoadedConfig): string | undefined {
  return loaded.config.approvals === undefined
    ? "change control is off: rekey.yaml has no `approvals:` section, so rotations need nobody's approval"
    : undefined;
}
