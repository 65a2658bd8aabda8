/** The extension's settings (package.json `contributes.configuration`), read fresh on every use. */
import * as vscode from 'vscode';

export const SECTION = 'distillery';

export interface Settings {
  nodePath: string;
  /** A CLI script to run instead of the bundled one (e.g. a checkout with tfjs-node-gpu installed). */
  cliPath: string;
  runsDir: string;
  /** undefined: the config's own `backend`. */
  backend: string | undefined;
  stopGraceMs: number;
  env: Record<string, string>;
}

export function readSettings(scope?: vscode.ConfigurationScope): Settings {
  const c = vscode.workspace.getConfiguration(SECTION, scope);
  const backend = c.get<string>('backend', 'fromConfig');
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(c.get<Record<string, unknown>>('env', {}) ?? {}))
    if (typeof v === 'string') env[k] = v;
  const runsDir = (c.get<string>('runsDir', 'runs') || 'runs').replace(/[\\/]+$/, '');
  return {
    nodePath: c.get<string>('nodePath', 'node') || 'node',
    cliPath: c.get<string>('cliPath', '') ?? '',
    runsDir,
    backend: backend && backend !== 'fromConfig' ? backend : undefined,
    stopGraceMs: Math.max(0, c.get<number>('stopGracePeriodSeconds', 30)) * 1000,
    env,
  };
}
