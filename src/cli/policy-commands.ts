/** Commands of policy and observability: status, check, serve, schedule. */
import type { Command } from 'commander';
import type { GlobalOptions } from './context.js';

export function registerPolicyCommands(_program: Command, _globals: () => GlobalOptions): void {}
