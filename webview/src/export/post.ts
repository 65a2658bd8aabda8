/**
 * Where exports go: the dashboard sets the sink once (it knows the VS Code API and which run is
 * shown), so charts in any view can export without each view threading `post` through to them.
 */
import type { ExportFormat, ExportRequest } from '../../../src/protocol/webview-messages';

export type ExportSink = (request: Omit<ExportRequest, 'type' | 'runId'>) => void;

let sink: ExportSink | undefined;

export function setExportSink(s: ExportSink | undefined): void {
  sink = s;
}

/** Sends an export to the host, which asks where to save it. */
export function sendExport(format: ExportFormat, chart: string, data: string): void {
  sink?.({ format, chart, data });
}

/** A chart's test id or title as a file-name-safe name: `chart-loss` → `loss`. */
export function exportName(s: string): string {
  return (
    s
      .replace(/^(compare-)?chart-/, '')
      .replace(/[^A-Za-z0-9_.-]+/g, '-')
      .replace(/\.{2,}/g, '.')
      .replace(/^[.-]+|[.-]+$/g, '')
      .slice(0, 80) || 'chart'
  );
}
