/**
 * This machine's training speed for New Experiment's time estimates: a few timed distillation
 * steps of the bench's reference model (`distillery bench --json`, in a child process like every
 * trainer job), remembered per trainer and backend so the flow measures only once.
 */
import * as vscode from 'vscode';
import type { MeasuredSpeed } from '../experiment/defaults';
import { cliErrorMessage, runCliJob } from './cli-job';
import { readSettings } from './settings';

const STATE_KEY = 'distillery.measuredSpeed';
/** A measurement older than this is taken again (kernels, drivers or the machine may have changed). */
const MAX_AGE_MS = 7 * 24 * 3600 * 1000;

interface Stored extends MeasuredSpeed {
  key: string;
  at: number;
}

export interface SpeedProbeHost {
  context: vscode.ExtensionContext;
  log: vscode.LogOutputChannel;
  cliPath(): string;
}

/** The GLUE-sized step's GFLOP/s on this machine; undefined when it could not be measured (reason logged). */
export async function measureSpeed(host: SpeedProbeHost, cwd: string): Promise<MeasuredSpeed | undefined> {
  const settings = readSettings(vscode.Uri.file(cwd));
  const key = `${settings.nodePath}|${host.cliPath()}|${settings.backend ?? 'auto'}`;
  const stored = host.context.globalState.get<Stored>(STATE_KEY);
  if (stored && stored.key === key && Date.now() - stored.at < MAX_AGE_MS && stored.gflopsPerSec > 0)
    return { gflopsPerSec: stored.gflopsPerSec, backend: stored.backend };
  const args = [
    host.cliPath(),
    'bench',
    '--shape',
    'reference',
    '--warmup',
    '1',
    '--repeats',
    '2',
    '--json',
    ...(settings.backend ? ['--backend', settings.backend] : []),
  ];
  return vscode.window.withProgress(
    {
      location: vscode.ProgressLocation.Notification,
      title: 'Distillery: timing a few training steps on this machine (once)…',
      cancellable: true,
    },
    async (_p, token) => {
      const abort = new AbortController();
      token.onCancellationRequested(() => abort.abort());
      host.log.info(`speed probe: ${settings.nodePath} ${args.join(' ')}`);
      const r = await runCliJob({
        nodePath: settings.nodePath,
        args,
        cwd,
        env: { ...process.env, ...settings.env },
        signal: abort.signal,
        graceMs: settings.stopGraceMs,
        onStderr: (l) => host.log.info(`[bench] ${l}`),
      });
      if (r.cancelled) return undefined;
      if (r.code !== 0) {
        host.log.warn(`speed probe failed: ${cliErrorMessage(r)}`);
        return undefined;
      }
      try {
        const report = JSON.parse(r.stdout) as {
          label?: unknown;
          backend?: unknown;
          step?: { gflopsPerSec?: unknown };
        };
        const gflopsPerSec = report.step?.gflopsPerSec;
        if (typeof gflopsPerSec !== 'number' || !(gflopsPerSec > 0))
          throw new Error('no step.gflopsPerSec in the report');
        const backend =
          typeof report.label === 'string' ? report.label : typeof report.backend === 'string' ? report.backend : '?';
        const speed: MeasuredSpeed = { gflopsPerSec, backend };
        await host.context.globalState.update(STATE_KEY, { ...speed, key, at: Date.now() } satisfies Stored);
        return speed;
      } catch (e) {
        host.log.warn(`speed probe: unreadable bench report (${(e as Error).message})`);
        return undefined;
      }
    },
  );
}
