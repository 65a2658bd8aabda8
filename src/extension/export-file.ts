/**
 * The host's half of the dashboard's chart export: what the webview sent, checked and decoded into
 * the bytes to write, and the file name to offer. The webview has no file system, and it is
 * untrusted: the bytes are checked here again (base64 alphabet, PNG signature, SVG root) whatever
 * its validator already did. No `vscode` here, so it is tested as plain functions.
 */
import * as path from 'node:path';
import {
  exportRequestProblem,
  PNG_DATA_URL_PREFIX,
  type ExportFormat,
  type ExportRequest,
} from '../protocol/webview-messages';

/** The first eight bytes of every PNG file. */
export const PNG_SIGNATURE = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export type DecodedExport = { bytes: Uint8Array; problem?: undefined } | { bytes?: undefined; problem: string };

/** Strict base64 (Buffer.from would skip characters it does not know and decode garbage). */
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** The file's bytes, or why the request cannot be saved. */
export function decodeExport(x: unknown): DecodedExport {
  const problem = exportRequestProblem(x);
  if (problem) return { problem };
  const m = x as ExportRequest;
  switch (m.format) {
    case 'png': {
      const b64 = m.data.slice(PNG_DATA_URL_PREFIX.length);
      if (b64.length % 4 !== 0 || !BASE64.test(b64)) return { problem: 'png data is not valid base64' };
      const bytes = new Uint8Array(Buffer.from(b64, 'base64'));
      if (bytes.length <= PNG_SIGNATURE.length || !PNG_SIGNATURE.every((b, i) => bytes[i] === b))
        return { problem: 'png data does not start with the PNG signature' };
      return { bytes };
    }
    case 'svg': {
      // an SVG document: optional XML declaration or comments, then the <svg> root
      if (!/^\s*(<\?xml[^>]*\?>\s*)?(<!--[\s\S]*?-->\s*)*<svg[\s>]/.test(m.data) || !/<\/svg>\s*$/.test(m.data))
        return { problem: 'svg data is not an SVG document' };
      return { bytes: new Uint8Array(Buffer.from(m.data, 'utf8')) };
    }
    case 'csv':
      return { bytes: new Uint8Array(Buffer.from(m.data, 'utf8')) };
  }
}

/**
 * A file-name-safe form of a run label or chart name: runs of anything but letters, digits, '.',
 * '_' and '-' become '-', no leading dots (no hidden files, no '..'), at most 80 characters.
 */
export function safeFileStem(s: string): string {
  const stem = s
    .normalize('NFKD')
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/\.{2,}/g, '.')
    .replace(/^[.-]+|[.-]+$/g, '')
    .slice(0, 80);
  return stem || 'export';
}

/** `<run>-<chart>.<format>` (compare view: `compare-<chart>.<format>`). */
export function defaultExportName(runLabel: string | undefined, chart: string, format: ExportFormat): string {
  return `${safeFileStem(runLabel ?? 'compare')}-${safeFileStem(chart)}.${format}`;
}

/** The save dialog's filter for a format. */
export function exportFilters(format: ExportFormat): Record<string, string[]> {
  return { png: { 'PNG image': ['png'] }, svg: { 'SVG image': ['svg'] }, csv: { 'CSV table': ['csv'] } }[format];
}

/** What handleExport needs from the panel and from VS Code (stubbed in tests). */
export interface ExportHost {
  /** The folder and label of a run this panel shows, by its id. */
  run(runId: string): { dir: string; label: string } | undefined;
  /** Where exports without a run (the compare view) are offered: beside the runs compared. */
  fallbackFolder: string;
  /** Asks where to save (the save dialog); undefined when the user cancels. */
  pickFile(defaultPath: string, format: ExportFormat, chart: string): Thenable<string | undefined>;
  /** Writes the file (atomically). */
  write(file: string, bytes: Uint8Array): void;
}

export type ExportOutcome =
  | { kind: 'saved'; file: string }
  | { kind: 'cancelled' }
  | { kind: 'refused'; problem: string }
  | { kind: 'failed'; file: string; problem: string };

/**
 * One export request, start to end: checked and decoded first (a malformed one never opens a
 * dialog), then the dialog offers `<run>-<chart>.<ext>` in the run folder, then the write.
 */
export async function handleExport(x: unknown, host: ExportHost): Promise<ExportOutcome> {
  const decoded = decodeExport(x);
  if (!decoded.bytes) return { kind: 'refused', problem: decoded.problem };
  const m = x as ExportRequest;
  const run = m.runId !== undefined ? host.run(m.runId) : undefined;
  const defaultPath = path.join(run?.dir ?? host.fallbackFolder, defaultExportName(run?.label, m.chart, m.format));
  const file = await host.pickFile(defaultPath, m.format, m.chart);
  if (!file) return { kind: 'cancelled' };
  try {
    host.write(file, decoded.bytes);
    return { kind: 'saved', file };
  } catch (e) {
    return { kind: 'failed', file, problem: e instanceof Error ? e.message : String(e) };
  }
}
