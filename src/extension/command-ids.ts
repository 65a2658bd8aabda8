/** The stable ids of every `distillery.*` command (package.json contributes.commands lists the same). */
export const COMMAND_IDS = [
  'distillery.newExperiment',
  'distillery.startRun',
  'distillery.stopRun',
  'distillery.resumeRun',
  'distillery.openDashboard',
  'distillery.compareRuns',
  'distillery.evaluateCheckpoint',
  'distillery.exportStudent',
  'distillery.showTrainerLog',
  'distillery.revealRunFolder',
  'distillery.runDemo',
  'distillery.refreshRuns',
  'distillery.refreshConfigs',
  'distillery.adviseMapping',
  'distillery.showKernelsHelp',
  'distillery.exportLogs',
  'distillery.diffConfigs',
] as const;

export type CommandId = (typeof COMMAND_IDS)[number];
