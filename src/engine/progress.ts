/** How the engine reports progress; the CLI renders it (live step list on a TTY, plain lines otherwise). */

export type StepOutcome = 'ok' | 'failed' | 'skipped';

export interface Progress {
  begin(id: string, title: string): void;
  end(id: string, outcome: StepOutcome, detail?: string): void;
  /** A free line (warnings, notes), shown between steps. */
  note(text: string): void;
}

export const silentProgress: Progress = { begin() {}, end() {}, note() {} };
