/**
 * Chooses the kernels the wasm and cpu backends run for a training step (docs/performance.md):
 *
 * - `auto` (default): `blas` when the native addon loads, else `untransposed` on wasm and the stock
 *   kernels on cpu.
 * - `blas`: the native addon (an error when it is not built): every matrix product through OpenBLAS
 *   sgemm (./matmul.ts); Add/Sub/Multiply/RealDiv, x², leading-axis sums and fused GELU,
 *   LayerNorm and dropout kernels (./elementwise.ts); fused softmax, attention-KL, AdamW and Σx²
 *   kernels and native Transpose and Slice (./training-kernels.ts). The ops of ../ops.ts that
 *   these kernels implement are registered with them (./ops.ts).
 * - `untransposed`: pure wasm; every product an untransposed 2-D XNNPACK product.
 * - `stock`: TF.js's own kernels.
 * Without BLAS, wasm and cpu register the attention scores' key layout (./ops.ts).
 * On the tensorflow backend, when the addon loads (modes auto and blas) and tfjs-node's binding has
 * the zero-copy views of native/tfjs-node/binding.patch (./tensorflow-memory.ts), the fused LayerNorm,
 * GELU, dropout, softmax, attention-KL, AdamW and Σx² kernels run on TensorFlow's tensor memory, and
 * so does the bias gradient of `linear` (tensorflowOps); its products, and everything else, stay
 * TensorFlow's own kernels.
 * On wasm every mode but `stock` also shares data for Identity/Cast and for transposes that leave
 * the data in place, and replaces the leading-axis Sum and row GatherV2 kernels
 * (./wasm-memory-kernels.ts).
 *
 * The mode comes from `setKernelMode` (the bench's --kernels), else DISTILLERY_KERNELS, else auto.
 * Kernels are swapped in TF.js's global registry, so the choice holds for every model and for the
 * gradients autodiff builds (which call the same kernels, e.g. MatMul with transposed operands).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { RunStartedEvent } from '../../protocol/events';
import { UserError } from '../../util/errors';
import { loadNativeBlas } from './native-blas';
import { blasCpuKernels, blasWasmKernels, untransposedFusedWasmKernel, untransposedWasmKernel } from './matmul';
import { leadingSumWasm, rowGatherWasm, sharedIdentityWasm } from './wasm-memory-kernels';
import { nativeTrainingKernels, sliceKernel, TRAINING_KERNELS, transposeKernel } from './training-kernels';
import {
  BINARY_OPS,
  DROPOUT_KERNEL,
  FUSED_KERNELS,
  GELU_GRAD_KERNEL,
  GELU_KERNEL,
  LAYER_NORM_GRAD_KERNEL,
  LAYER_NORM_KERNEL,
  nativeBinaryKernel,
  nativeFusedKernels,
  nativeGeluKernels,
  nativeSquarePowKernel,
} from './elementwise';
import { registerOps } from '../ops';
import { KEY_LAYOUT_OPS, NATIVE_OPS, tensorflowOps } from './ops';
import { inViewScope, tensorflowViews, type TensorflowBackendLike } from './tensorflow-memory';

export const KERNEL_MODES = ['auto', 'blas', 'untransposed', 'stock'] as const;
export type KernelMode = (typeof KERNEL_MODES)[number];
/** What a backend's matrix products actually run on. */
export type KernelPath = 'stock' | 'untransposed' | 'blas';

export interface KernelsInfo {
  requested: KernelMode;
  wasm: KernelPath;
  cpu: KernelPath;
  /** The addon's library, e.g. "OpenBLAS 0.3.21 … Haswell MAX_THREADS=64", and its thread count. */
  blas?: { path: string; config: string; threads: number };
  /** Why the addon is not in use (when it is not). */
  blasUnavailable?: string;
  /** On the tensorflow backend: the addon's fused kernels on TensorFlow's memory, or its stock ops alone. */
  tensorflow: 'fused' | 'stock';
  /** Why the tensorflow backend runs without the fused kernels (when it is loaded). */
  tensorflowUnavailable?: string;
}

export function isKernelMode(s: string): s is KernelMode {
  return (KERNEL_MODES as readonly string[]).includes(s);
}

const MATMUL_KERNELS = [tf.BatchMatMul, tf._FusedMatMul] as const;
/** Stock kernel configs by `${backend}/${kernel}`, captured before the first swap. */
const stock = new Map<string, tf.KernelConfig>();
const installed: Record<'wasm' | 'cpu', KernelPath> = { wasm: 'stock', cpu: 'stock' };
let tensorflowInstalled: 'fused' | 'stock' = 'stock';
let tensorflowUnavailable: string | undefined;
let explicitMode: KernelMode | undefined;
registerOps('wasm', KEY_LAYOUT_OPS);
registerOps('cpu', KEY_LAYOUT_OPS);

function envMode(): KernelMode {
  const v = process.env.DISTILLERY_KERNELS;
  if (v === undefined || v === '') return 'auto';
  if (!isKernelMode(v)) {
    throw new UserError(`DISTILLERY_KERNELS must be one of ${KERNEL_MODES.join(', ')}, got "${v}"`, {
      where: 'DISTILLERY_KERNELS',
      fix: 'unset it, or use auto',
    });
  }
  return v;
}

export function requestedKernelMode(): KernelMode {
  return explicitMode ?? envMode();
}

function stockKernel(backend: string, name: string): tf.KernelConfig | undefined {
  const key = `${backend}/${name}`;
  if (!stock.has(key)) {
    const k = tf.getKernel(name, backend);
    if (k) stock.set(key, k);
  }
  return stock.get(key);
}

function swap(backend: string, name: string, kernelFunc: tf.KernelFunc | undefined): void {
  const original = stockKernel(backend, name);
  if (!original) return;
  if (tf.getKernel(name, backend)) tf.unregisterKernel(name, backend);
  // The stock setup/dispose stay attached: a backend initialised after the swap still sets up
  // the stock kernel, which the replacements fall back on.
  tf.registerKernel(kernelFunc ? { ...original, kernelFunc } : original);
}

/** The addon's element-wise and fused kernels on (or the stock ones back) for a backend. */
function installElementwise(backend: 'wasm' | 'cpu', on: boolean): void {
  const native = on ? loadNativeBlas().blas : null;
  for (const [name, op] of Object.entries(BINARY_OPS)) {
    const original = stockKernel(backend, name);
    if (original) swap(backend, name, native ? nativeBinaryKernel(native, op, original.kernelFunc) : undefined);
  }
  const pow = stockKernel(backend, tf.Pow);
  if (pow) swap(backend, tf.Pow, native ? nativeSquarePowKernel(native, pow.kernelFunc) : undefined);
  for (const name of [...FUSED_KERNELS, ...TRAINING_KERNELS])
    if (tf.getKernel(name, backend)) tf.unregisterKernel(name, backend);
  if (native) {
    for (const [kernelName, kernelFunc] of Object.entries(nativeTrainingKernels(native)))
      tf.registerKernel({ kernelName, backendName: backend, kernelFunc });
    const g = nativeGeluKernels(native);
    const f = nativeFusedKernels(native);
    const own: Array<[string, tf.KernelFunc]> = [
      [GELU_KERNEL, g.gelu],
      [GELU_GRAD_KERNEL, g.geluGrad],
      [LAYER_NORM_KERNEL, f.layerNorm],
      [LAYER_NORM_GRAD_KERNEL, f.layerNormGrad],
      [DROPOUT_KERNEL, f.dropout],
    ];
    for (const [kernelName, kernelFunc] of own) tf.registerKernel({ kernelName, backendName: backend, kernelFunc });
  }
}

function installWasm(path: KernelPath): void {
  const bmm = stockKernel('wasm', tf.BatchMatMul);
  if (!bmm) return; // the wasm backend package is not loaded
  if (installed.wasm === path) return;
  const fused = stockKernel('wasm', tf._FusedMatMul);
  if (path === 'blas') {
    const k = blasWasmKernels(loadNativeBlas().blas!, { batchMatMul: bmm.kernelFunc, fusedMatMul: fused?.kernelFunc });
    swap('wasm', tf.BatchMatMul, k.batchMatMul);
    swap('wasm', tf._FusedMatMul, k.fusedMatMul);
  } else if (path === 'untransposed') {
    const transpose = stockKernel('wasm', tf.Transpose);
    const reshape = stockKernel('wasm', tf.Reshape);
    if (!transpose || !reshape) throw new Error('fast kernels: the wasm backend lacks Transpose/Reshape kernels');
    swap(
      'wasm',
      tf.BatchMatMul,
      untransposedWasmKernel({
        batchMatMul: bmm.kernelFunc,
        transpose: transpose.kernelFunc,
        reshape: reshape.kernelFunc,
      }),
    );
    swap(
      'wasm',
      tf._FusedMatMul,
      fused
        ? untransposedFusedWasmKernel({ fusedMatMul: fused.kernelFunc, transpose: transpose.kernelFunc })
        : undefined,
    );
  } else {
    for (const name of MATMUL_KERNELS) swap('wasm', name, undefined);
  }
  // Leading-axis sums and row gathers: copy loops instead of the stock transposing/strided ones.
  const sum = stockKernel('wasm', tf.Sum);
  const gather = stockKernel('wasm', tf.GatherV2);
  if (sum)
    swap(
      'wasm',
      tf.Sum,
      path === 'stock' ? undefined : leadingSumWasm(sum.kernelFunc, path === 'blas' ? loadNativeBlas().blas : null),
    );
  if (gather)
    swap(
      'wasm',
      tf.GatherV2,
      path === 'stock' ? undefined : rowGatherWasm(gather.kernelFunc, path === 'blas' ? loadNativeBlas().blas : null),
    );
  for (const name of [tf.Identity, tf.Cast]) {
    const k = stockKernel('wasm', name);
    if (k) swap('wasm', name, path === 'stock' ? undefined : sharedIdentityWasm(k.kernelFunc));
  }
  const stockTranspose = stockKernel('wasm', tf.Transpose);
  if (stockTranspose)
    swap(
      'wasm',
      tf.Transpose,
      path === 'stock'
        ? undefined
        : transposeKernel(path === 'blas' ? loadNativeBlas().blas : null, stockTranspose.kernelFunc),
    );
  const stockSlice = stockKernel('wasm', tf.Slice);
  if (stockSlice)
    swap('wasm', tf.Slice, path === 'blas' ? sliceKernel(loadNativeBlas().blas!, stockSlice.kernelFunc) : undefined);
  installElementwise('wasm', path === 'blas');
  registerOps('wasm', path === 'blas' ? NATIVE_OPS : KEY_LAYOUT_OPS);
  installed.wasm = path;
}

function installCpu(path: KernelPath): void {
  const bmm = stockKernel('cpu', tf.BatchMatMul);
  if (!bmm) return;
  if (installed.cpu === path) return;
  if (path === 'blas') {
    const fused = stockKernel('cpu', tf._FusedMatMul);
    const k = blasCpuKernels(loadNativeBlas().blas!, { batchMatMul: bmm.kernelFunc, fusedMatMul: fused?.kernelFunc });
    swap('cpu', tf.BatchMatMul, k.batchMatMul);
    swap('cpu', tf._FusedMatMul, k.fusedMatMul);
  } else {
    for (const name of MATMUL_KERNELS) swap('cpu', name, undefined);
  }
  const stockTranspose = stockKernel('cpu', tf.Transpose);
  if (stockTranspose)
    swap(
      'cpu',
      tf.Transpose,
      path === 'blas' ? transposeKernel(loadNativeBlas().blas, stockTranspose.kernelFunc) : undefined,
    );
  const stockSlice = stockKernel('cpu', tf.Slice);
  if (stockSlice)
    swap('cpu', tf.Slice, path === 'blas' ? sliceKernel(loadNativeBlas().blas!, stockSlice.kernelFunc) : undefined);
  installElementwise('cpu', path === 'blas');
  registerOps('cpu', path === 'blas' ? NATIVE_OPS : KEY_LAYOUT_OPS);
  installed.cpu = path;
}

/** The fused kernels on (or off) for the tensorflow backend; off when its binding lacks the views. */
function installTensorflow(on: boolean): void {
  const views = tensorflowViews();
  const fused = on && views.ok;
  tensorflowUnavailable = !on ? undefined : views.ok ? undefined : views.reason;
  if (fused === (tensorflowInstalled === 'fused')) return;
  for (const name of [...FUSED_KERNELS, ...TRAINING_KERNELS])
    if (tf.getKernel(name, 'tensorflow')) tf.unregisterKernel(name, 'tensorflow');
  if (fused) {
    const native = loadNativeBlas().blas!;
    const binding = () => (tf.findBackend('tensorflow') as unknown as TensorflowBackendLike).binding;
    const g = nativeGeluKernels(native);
    const f = nativeFusedKernels(native);
    const own: Array<[string, tf.KernelFunc]> = [
      ...Object.entries(nativeTrainingKernels(native)),
      [GELU_KERNEL, g.gelu],
      [GELU_GRAD_KERNEL, g.geluGrad],
      [LAYER_NORM_KERNEL, f.layerNorm],
      [LAYER_NORM_GRAD_KERNEL, f.layerNormGrad],
      [DROPOUT_KERNEL, f.dropout],
    ];
    for (const [kernelName, kernelFunc] of own)
      tf.registerKernel({ kernelName, backendName: 'tensorflow', kernelFunc: inViewScope(binding, kernelFunc) });
  }
  registerOps('tensorflow', fused ? tensorflowOps() : {});
  tensorflowInstalled = fused ? 'fused' : 'stock';
}

/**
 * Installs the kernels of the requested mode on the backends whose packages are loaded. Safe to
 * call any number of times (BertModel calls it through registerMissingKernels).
 */
export function installFastKernels(): KernelsInfo {
  const mode = requestedKernelMode();
  const native = mode === 'stock' || mode === 'untransposed' ? undefined : loadNativeBlas();
  if (mode === 'blas' && !native?.blas) {
    throw new UserError(`the native BLAS kernels are not available: ${native?.reason ?? 'unknown reason'}`, {
      where: 'kernels',
      fix: 'build them with `node native/build.mjs` (needs a C compiler and libopenblas-dev), or use the auto kernels',
    });
  }
  const useBlas = !!native?.blas;
  installWasm(useBlas ? 'blas' : mode === 'stock' ? 'stock' : 'untransposed');
  installCpu(useBlas ? 'blas' : 'stock');
  installTensorflow(useBlas);
  return kernelsInfo();
}

/** Selects a mode (overriding DISTILLERY_KERNELS) and installs it. */
export function setKernelMode(mode: KernelMode): KernelsInfo {
  explicitMode = mode;
  return installFastKernels();
}

/** Forgets setKernelMode's choice: DISTILLERY_KERNELS (or auto) applies again at the next install. */
export function resetKernelMode(): void {
  explicitMode = undefined;
}

export function kernelsInfo(): KernelsInfo {
  const requested = requestedKernelMode();
  const info: KernelsInfo = { requested, wasm: installed.wasm, cpu: installed.cpu, tensorflow: tensorflowInstalled };
  if (tensorflowUnavailable) info.tensorflowUnavailable = tensorflowUnavailable;
  const native = loadNativeBlas();
  if (native.blas && (installed.wasm === 'blas' || installed.cpu === 'blas')) {
    info.blas = { path: native.path ?? '', config: native.blas.config(), threads: native.blas.threads() };
  } else if (!native.blas) {
    info.blasUnavailable = native.reason;
  }
  return info;
}

/** The kernel path the given backend (default: the active one) runs its products on. */
export function activeKernelPath(backendName: string = tf.getBackend()): KernelPath {
  return backendName === 'wasm' ? installed.wasm : backendName === 'cpu' ? installed.cpu : 'stock';
}

/**
 * What a run reports about its kernels (run-started's backend fields): installs them first, since a
 * run reports before it builds the model that would otherwise install them. The extension shows
 * this, and says how to get the native kernels when a wasm or cpu run goes without them.
 */
export function kernelsReport(
  backendName: string = tf.getBackend(),
): Pick<RunStartedEvent['backend'], 'native' | 'nativeUnavailable'> & { kernels: KernelPath } {
  const info = installFastKernels();
  const kernels = activeKernelPath(backendName);
  if (kernels === 'blas' && info.blas)
    return { kernels, native: { path: info.blas.path, library: info.blas.config, threads: info.blas.threads } };
  if (backendName === 'tensorflow' && info.tensorflow === 'stock') {
    // Its own kernels run either way; say why the fused ones do not (not asked for, no addon, a stock binding).
    const why = info.tensorflowUnavailable ?? info.blasUnavailable;
    return why && info.requested !== 'stock' && info.requested !== 'untransposed'
      ? { kernels, nativeUnavailable: why }
      : { kernels };
  }
  if (backendName !== 'wasm' && backendName !== 'cpu') return { kernels };
  // An explicit choice is the reason even where the addon is missing too: it would not be used.
  const chosen = info.requested === 'stock' || info.requested === 'untransposed';
  return {
    kernels,
    nativeUnavailable:
      chosen || !info.blasUnavailable
        ? `DISTILLERY_KERNELS=${info.requested} selects the ${kernels} kernels`
        : info.blasUnavailable,
  };
}
