/**
 * The learning-rate schedule BERT fine-tuning uses: linear warm-up from 0 to the peak, then linear
 * decay to 0 at the last step (transformers' get_linear_schedule_with_warmup).
 */
import { UserError } from '../util/errors';

/**
 * The learning rate for optimizer step `step` (0-based: the first update uses step 0, so its rate
 * is 0 when there is any warm-up, exactly as with a LambdaLR stepped after each optimizer step).
 */
export function linearWarmupDecay(step: number, totalSteps: number, warmupSteps: number, peakLr: number): number {
  // max(1, …) guards mirror transformers, so warmup = 0 or warmup = total never divide by zero.
  if (step < warmupSteps) return (peakLr * step) / Math.max(1, warmupSteps);
  return peakLr * Math.max(0, (totalSteps - step) / Math.max(1, totalSteps - warmupSteps));
}

/**
 * Resolves the config's `warmup` to a step count: a fraction in [0, 1) of `total` (rounded up, as
 * transformers' TrainingArguments.get_warmup_steps does, less its float noise), or an absolute
 * count ≥ 1 used as is.
 */
export function warmupSteps(total: number, warmup: number): number {
  if (!Number.isInteger(total) || total < 0)
    throw new Error(`warmupSteps: total must be a non-negative integer, got ${total}`);
  if (!Number.isFinite(warmup) || warmup < 0) {
    throw new UserError(`warmup must be a fraction in [0, 1) or a step count ≥ 1, got ${warmup}`, {
      where: 'optim.warmup',
      fix: 'use e.g. 0.1 for 10% of the training steps, or 500 for 500 steps',
    });
  }
  // The 1e-9 keeps float noise from adding a step (100 × 0.07 is 7.000000000000001 in binary).
  if (warmup < 1) return Math.max(0, Math.ceil(total * warmup - 1e-9));
  if (!Number.isInteger(warmup)) {
    throw new UserError(`warmup ≥ 1 is a step count and must be a whole number, got ${warmup}`, {
      where: 'optim.warmup',
      fix: `use ${Math.round(warmup)} steps, or a fraction below 1`,
    });
  }
  return warmup;
}
