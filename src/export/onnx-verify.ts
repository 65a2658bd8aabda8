/**
 * Runs an exported model.onnx with ONNX Runtime (the optional npm package onnxruntime-node, loaded
 * only here and only when asked) and compares its logits with the TF.js model's. The package is
 * optional because it is large and native: without it the export still writes the file and says
 * that it was not checked.
 */
import { ONNX_INPUTS, ONNX_OUTPUT } from './onnx-graph';

/** The few pieces of onnxruntime-node's API used here (its types are not needed to build). */
interface OrtTensor {
  readonly data: unknown;
  readonly dims: readonly number[];
}
interface OrtSession {
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release?(): Promise<void>;
}
export interface OrtModule {
  InferenceSession: { create(model: Uint8Array, options?: Record<string, unknown>): Promise<OrtSession> };
  Tensor: new (type: 'int64', data: BigInt64Array, dims: readonly number[]) => OrtTensor;
  env?: { versions?: { common?: string } };
}

export const ORT_PACKAGE = 'onnxruntime-node';

export type OrtLoad = { ok: true; ort: OrtModule; version: string } | { ok: false; reason: string };

/** Loads onnxruntime-node (or `pkg`, for tests) if it is installed and its native binary loads. */
export async function loadOnnxRuntime(pkg: string = ORT_PACKAGE): Promise<OrtLoad> {
  try {
    // A plain require keeps the package external to the bundle and resolves it from node_modules.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const ort = require(pkg) as OrtModule;
    if (typeof ort.InferenceSession?.create !== 'function')
      return { ok: false, reason: `${pkg} has no InferenceSession` };
    let version = 'unknown';
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      version = (require(`${pkg}/package.json`) as { version?: string }).version ?? version;
    } catch {
      // Its version is only for the report.
    }
    return { ok: true, ort, version };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const reason =
      err.code === 'MODULE_NOT_FOUND' && err.message.includes(`'${pkg}'`)
        ? `${pkg} is not installed`
        : `${pkg} did not load (${err.message.split('\n')[0]})`;
    return { ok: false, reason };
  }
}

export interface ProbeBatch {
  size: number;
  seqLen: number;
  inputIds: Int32Array;
  tokenTypeIds: Int32Array;
  attentionMask: Int32Array;
}

/** The model's logits for `batch`, run by ONNX Runtime on the CPU. */
export async function onnxLogits(ort: OrtModule, model: Uint8Array, batch: ProbeBatch): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(model, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
  });
  try {
    const dims = [batch.size, batch.seqLen];
    const feed = (a: Int32Array) =>
      new ort.Tensor(
        'int64',
        BigInt64Array.from(a, (v) => BigInt(v)),
        dims,
      );
    const values: Record<(typeof ONNX_INPUTS)[number], Int32Array> = {
      input_ids: batch.inputIds,
      attention_mask: batch.attentionMask,
      token_type_ids: batch.tokenTypeIds,
    };
    const feeds: Record<string, OrtTensor> = {};
    for (const name of ONNX_INPUTS) feeds[name] = feed(values[name]);
    const out = (await session.run(feeds))[ONNX_OUTPUT];
    if (!out || !(out.data instanceof Float32Array))
      throw new Error(`model.onnx: ONNX Runtime returned no float32 "${ONNX_OUTPUT}" output`);
    return out.data;
  } finally {
    await session.release?.();
  }
}

export interface LogitComparison {
  maxAbsDiff: number;
  /** The largest |logit| of the reference, which scales the tolerance. */
  maxAbsRef: number;
  tolerance: number;
  ok: boolean;
}

/**
 * Float32 kernels differ in summation order, so the tolerance is 1e-4 absolute for logits of order
 * one and relative above that. A NaN anywhere, or a length mismatch, fails.
 */
export function compareLogits(reference: Float32Array, candidate: Float32Array, tol = 1e-4): LogitComparison {
  let maxAbsDiff = reference.length === candidate.length ? 0 : Number.POSITIVE_INFINITY;
  let maxAbsRef = 0;
  for (let i = 0; i < Math.min(reference.length, candidate.length); i++) {
    const diff = Math.abs(reference[i] - candidate[i]);
    maxAbsDiff = Number.isNaN(diff) || Number.isNaN(maxAbsDiff) ? Number.NaN : Math.max(maxAbsDiff, diff);
    maxAbsRef = Math.max(maxAbsRef, Math.abs(reference[i]));
  }
  const tolerance = tol * Math.max(1, maxAbsRef);
  return { maxAbsDiff, maxAbsRef, tolerance, ok: maxAbsDiff <= tolerance };
}
