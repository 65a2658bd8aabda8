/**
 * Loss-weight and temperature schedules over a stage, as TextBrewer's weight schedulers do
 * (linear growth/decay): a value moves from `from` at the stage's first step to `to` at its last,
 * along a constant, linear or cosine (half-period, as in cosine learning-rate decay) shape.
 *
 * The value is a pure function of (stage step, stage steps), both in the loop position a
 * checkpoint stores, so a resumed run replays the same weights. Nothing here loads TF.js: the
 * config validator and the webview may import it.
 */

// The shape itself is config vocabulary (config/types.ts), which sits below this layer.
import type { Schedule } from '../config/types';
export type { Schedule };

/**
 * Where step `stageStep` (0-based) lies in a stage of `stageSteps` steps: 0 at the first step, 1
 * at the last (0 throughout a one-step stage).
 */
export function stageProgress(stageStep: number, stageSteps: number): number {
  if (stageSteps <= 1) return 0;
  return Math.min(1, Math.max(0, stageStep / (stageSteps - 1)));
}

/** The schedule's value at progress `p` ∈ [0, 1]. */
export function scheduleValue(s: Schedule, p: number): number {
  switch (s.shape) {
    case 'constant':
      return s.from;
    case 'linear':
      return s.from + (s.to - s.from) * p;
    case 'cosine':
      return s.to + ((s.from - s.to) * (1 + Math.cos(Math.PI * p))) / 2;
  }
}
