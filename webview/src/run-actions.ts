/**
 * Which of the run's actions apply to its state: Stop only while it runs, Resume only when it can
 * continue from a checkpoint (stopped, crashed: the host reports a dead process as stopped, or
 * failed). A finished run offers neither. Pure, for the header and its tests.
 */
import type { RunStatus } from '../../src/protocol/webview-messages';

export interface RunActions {
  stop: boolean;
  resume: boolean;
}

export function runActions(status: RunStatus): RunActions {
  return { stop: status === 'running', resume: status === 'stopped' || status === 'failed' };
}
