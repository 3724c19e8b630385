/** Commands of change control and audit: request, approve, requests, audit. */
import type { Command } from 'commander';
import type { GlobalOptions } from './context.js';

export function registerGovernanceCommands(_program: Command, _globals: () => GlobalOptions): void {}
