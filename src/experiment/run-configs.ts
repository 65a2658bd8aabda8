/**
 * Reads compared runs' resolved configs (runs/<id>/config.json, written when the run starts) and
 * builds the compare view's 'config-fields' message. Node only (fs); no vscode.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RunConfigFields } from '../protocol/webview-messages';
import { differingFields, flattenConfig, pickFields, type FlatConfig } from './config-fields';

export const RUN_CONFIG_FILE = 'config.json';

export function runConfigPath(runDir: string): string {
  return path.join(runDir, RUN_CONFIG_FILE);
}

/** The run's flattened config, or why it could not be read (not written yet, not JSON). */
export function readFlatRunConfig(
  runDir: string,
): { config: FlatConfig; problem?: undefined } | { config?: undefined; problem: string } {
  let text: string;
  try {
    text = fs.readFileSync(runConfigPath(runDir), 'utf8');
  } catch {
    return { problem: 'no config.json yet' };
  }
  try {
    const x: unknown = JSON.parse(text);
    if (!x || typeof x !== 'object' || Array.isArray(x)) return { problem: 'config.json is not a JSON object' };
    return { config: flattenConfig(x) };
  } catch (e) {
    return { problem: `config.json is not valid JSON (${(e as Error).message})` };
  }
}

/**
 * The fields that differ among the runs whose config could be read, and every run's values of
 * them. A run without a readable config is listed with its problem and no values, and does not
 * make every field "differ".
 */
export function compareConfigFields(runs: ReadonlyArray<{ runId: string; runDir: string }>): {
  fields: string[];
  runs: RunConfigFields[];
} {
  const read = runs.map((r) => ({ ...r, ...readFlatRunConfig(r.runDir) }));
  const fields = differingFields(read.flatMap((r) => (r.config ? [r.config] : [])));
  return {
    fields,
    runs: read.map((r) =>
      r.config
        ? { runId: r.runId, values: pickFields(r.config, fields) }
        : { runId: r.runId, values: {}, problem: r.problem ?? 'unreadable' },
    ),
  };
}
