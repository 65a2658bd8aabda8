/**
 * Picks the TF.js backend that will run: tensorflow (GPU, then CPU) → wasm → pure-JS cpu.
 * `@tensorflow/tfjs-node(-gpu)` are optional dependencies: they need libtensorflow, which their
 * installer downloads, so on machines without it we fall through to wasm. Every command reports
 * the backend that actually ran (`describeBackend`).
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { UserError } from '../util/errors';

export const BACKEND_CHOICES = ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendRequest = (typeof BACKEND_CHOICES)[number];
export type BackendKind = Exclude<BackendRequest, 'auto'>;

export interface BackendInfo {
  requested: BackendRequest;
  /** What ran: tensorflow-gpu, tensorflow (CPU), wasm or cpu. */
  kind: BackendKind;
  /** The TF.js backend name (`tf.getBackend()`). */
  tfName: string;
  /** Why the candidates before this one were skipped. */
  skipped: string[];
}

let active: BackendInfo | undefined;

export function isBackendRequest(s: string): s is BackendRequest {
  return (BACKEND_CHOICES as readonly string[]).includes(s);
}

function loadTensorflow(pkg: string): void {
  // A plain require: the package registers the 'tensorflow' backend with the shared tfjs-core.
  // A half-installed package (its libtensorflow download failed) registers its kernels, then
  // throws; keep its "already registered" chatter off the user's terminal.
  // TensorFlow's C++ info lines (oneDNN, CPU features) go to stderr unless the user asked for them.
  process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';
  const { warn, log } = console;
  console.warn = () => undefined;
  console.log = () => undefined;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require(pkg);
  } finally {
    console.warn = warn;
    console.log = log;
  }
}

async function tryKind(kind: BackendKind): Promise<void> {
  switch (kind) {
    case 'tensorflow-gpu': {
      loadTensorflow('@tensorflow/tfjs-node-gpu');
      if (!(await tf.setBackend('tensorflow'))) throw new Error('the tensorflow backend did not initialise');
      const b = tf.backend() as unknown as { isUsingGpuDevice?: boolean };
      if (!b.isUsingGpuDevice) throw new Error('libtensorflow loaded but found no CUDA GPU');
      return;
    }
    case 'tensorflow':
      try {
        loadTensorflow('@tensorflow/tfjs-node');
      } catch (e) {
        // tfjs-node-gpu also provides a working CPU backend.
        try {
          loadTensorflow('@tensorflow/tfjs-node-gpu');
        } catch {
          throw e;
        }
      }
      if (!(await tf.setBackend('tensorflow'))) throw new Error('the tensorflow backend did not initialise');
      return;
    case 'wasm': {
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      const dist =
        path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + path.sep;
      wasm.setWasmPaths(dist);
      if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend did not initialise');
      return;
    }
    case 'cpu': {
      await import('@tensorflow/tfjs-backend-cpu');
      // The cpu backend prints an advert for tfjs-node on creation; we report the backend ourselves.
      const warn = console.warn;
      console.warn = () => undefined;
      try {
        if (!(await tf.setBackend('cpu'))) throw new Error('the cpu backend did not initialise');
      } finally {
        console.warn = warn;
      }
      return;
    }
  }
}

function shortReason(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  if (/Cannot find module/.test(msg)) return 'not installed';
  // A tfjs-node whose install step could not download libtensorflow fails on its own files.
  if (/ENOENT|napi|\.node\b|libtensorflow/.test(msg))
    return 'installed without its native TensorFlow library (reinstall it where the network is reachable)';
  return msg.split('\n')[0];
}

/**
 * Initialises the requested backend (or the best available for `auto`). An explicit request that
 * cannot be met is an error, not a silent fallback.
 */
export async function initBackend(requested: BackendRequest = 'auto'): Promise<BackendInfo> {
  if (active && (requested === 'auto' || requested === active.kind)) return active;
  const order: BackendKind[] = requested === 'auto' ? ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] : [requested];
  const skipped: string[] = [];
  for (const kind of order) {
    try {
      await tryKind(kind);
      active = { requested, kind, tfName: tf.getBackend(), skipped };
      return active;
    } catch (e) {
      skipped.push(`${kind}: ${shortReason(e)}`);
    }
  }
  throw new UserError(`backend "${requested}" is not available (${skipped.join('; ')})`, {
    where: '--backend',
    fix:
      requested === 'auto'
        ? 'reinstall the project dependencies (npm ci)'
        : 'use --backend auto, or install the package it needs (tfjs-node needs libtensorflow and network access at install time)',
  });
}

export function activeBackend(): BackendInfo | undefined {
  return active;
}

export function describeBackend(info: BackendInfo): string {
  const skipped = info.skipped.length ? ` (skipped ${info.skipped.join('; ')})` : '';
  return `backend: ${info.kind}${skipped}`;
}
