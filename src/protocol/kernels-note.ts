/**
 * What a run's kernels mean for the user, from its run-started `backend` fields: the one wording the
 * status bar (src/extension/status-bar.ts) and the dashboard (webview/src/kernels-note.ts) share.
 * The slow path is a wasm or cpu run without the native kernels (about 6× slower per step, README
 * "Performance"); the note then says why and how to get the fast ones. Browser-safe: types only.
 */
import type { RunStartedEvent } from './events';

/** The README section the notes point to (its heading, as the Markdown preview anchors it). */
export const KERNELS_HELP_HEADING = 'Fast kernels in VS Code';
/** The platform package scripts/package.mjs builds here; other platforms get the universal one. */
export const PLATFORM_PACKAGE = 'distillery-linux-x64.vsix';

export interface KernelsNote {
  /** A few words: "native kernels", "wasm kernels (slow path)". */
  label: string;
  /** A wasm or cpu run without the native kernels. */
  slow: boolean;
  /** What runs: the library and threads, or the kernels and why not the native ones. */
  detail: string;
  /** When slow: how to get the native kernels. */
  fix?: string;
}

type Backend = RunStartedEvent['backend'];

/** "OpenBLAS 0.3.21" from OpenBLAS's long config string. */
function libraryName(library: string): string {
  return library.split(/\s+/).slice(0, 2).join(' ');
}

/** How to get the native kernels, given why they are missing. */
function fixFor(reason: string): string {
  if (/DISTILLERY_KERNELS/.test(reason)) {
    return 'Remove DISTILLERY_KERNELS from the `distillery.env` setting (or your environment) so the trainer picks the native kernels.';
  }
  if (/turned off by DISTILLERY_NATIVE_BLAS/.test(reason)) {
    return 'Remove DISTILLERY_NATIVE_BLAS from the `distillery.env` setting (or your environment).';
  }
  if (/failed to load|lacks functions/.test(reason)) {
    return (
      'The native addon is there but does not load on this system (see the reason). Install the extension package built for this platform, ' +
      "or build the addon in a Distillery checkout (`node native/build.mjs`) and set `distillery.cliPath` to that checkout's bin/distillery.js."
    );
  }
  return (
    `Install the extension's platform package (${PLATFORM_PACKAGE} on Linux x64; the Marketplace picks it by itself), ` +
    "or build the addon in a Distillery checkout (`apt-get install libopenblas-dev && node native/build.mjs`) and set `distillery.cliPath` to that checkout's bin/distillery.js."
  );
}

/** The note for a run, or undefined when the run predates kernel reporting (no `kernels` field). */
export function kernelsNote(backend: Backend): KernelsNote | undefined {
  const kernels = backend.kernels;
  if (kernels === undefined) return undefined;
  if (backend.native && kernels === 'blas') {
    const threads = `${backend.native.threads} thread${backend.native.threads === 1 ? '' : 's'}`;
    return {
      label: 'native kernels',
      slow: false,
      detail: `native kernels: ${libraryName(backend.native.library)} (${threads}) from ${backend.native.path}`,
    };
  }
  if (backend.kind !== 'wasm' && backend.kind !== 'cpu') {
    return {
      label: `${backend.kind} kernels`,
      slow: false,
      detail: `TensorFlow's own kernels (the ${backend.kind} backend)`,
    };
  }
  const reason = backend.nativeUnavailable ?? 'the trainer did not say why';
  return {
    label: `${backend.kind} kernels (slow path)`,
    slow: true,
    detail: `the ${backend.kind} backend runs its ${kernels} kernels, several times slower than the native ones: ${reason}`,
    fix: fixFor(reason),
  };
}
