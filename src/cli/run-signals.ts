import { StopSignal } from '../train/loop';

/**
 * First SIGINT/SIGTERM: ask the loop to checkpoint and stop at the next step boundary.
 * A second one: exit at once (the last checkpoint still resumes).
 */
export function installStopHandlers(stderr: NodeJS.WritableStream): { signal: StopSignal; dispose(): void } {
  const signal: StopSignal = { requested: null };
  const handler = (name: NodeJS.Signals) => {
    if (signal.requested) {
      stderr.write(`\n${name} again: exiting without a final checkpoint\n`);
      process.exit(name === 'SIGINT' ? 130 : 143);
    }
    signal.requested = name;
    stderr.write(`\n${name}: writing a checkpoint and stopping after this step (send it again to exit now)\n`);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal,
    dispose() {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}

export function exitCodeFor(status: 'finished' | 'stopped' | 'failed', signal: StopSignal, userError: boolean): number {
  if (status === 'finished') return 0;
  if (status === 'stopped') return signal.requested === 'SIGINT' ? 130 : 143;
  return userError ? 2 : 1;
}
