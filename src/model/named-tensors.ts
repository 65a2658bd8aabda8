/**
 * Plain (framework-free) tensors keyed by Hugging Face parameter names, in PyTorch orientation
 * (a Linear weight is [out, in]). This is what checkpoint IO reads and writes; the TF.js model
 * converts to and from it.
 */
export interface NamedTensor {
  shape: number[];
  data: Float32Array;
}

export type NamedTensors = Map<string, NamedTensor>;

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
