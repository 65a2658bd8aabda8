/**
 * Editor support for *.distill.json: semantic diagnostics (debounced, as the user types), Quick
 * Fixes, a "▶ Start run" CodeLens at the top of the file, and a hover on a field that shows how the
 * workspace's finished runs that varied it did. The validator (ajv and the schema)
 * is loaded on first use, not at activation (load-validator.ts).
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ConfigProblem } from '../config/parse';
import type { RunManager } from './run-manager';
import { loadValidator } from './load-validator';
import { adviceStore } from './mapping-advice';
import type { QuickFix, TextEditData } from './quick-fixes';
import type { RunState } from './run-state';
import type { FlatConfig } from '../experiment/config-fields';
import { fieldOutcomes, formatFieldOutcomes, type RunOutcome } from '../experiment/field-outcomes';
import { readFlatRunConfig } from '../experiment/run-configs';

export const CONFIG_SELECTOR: vscode.DocumentSelector = [
  { scheme: 'file', pattern: '**/*.distill.json' },
  { scheme: 'untitled', pattern: '**/*.distill.json' },
];

const DEBOUNCE_MS = 300;

export function isConfigDocument(doc: vscode.TextDocument): boolean {
  return doc.fileName.endsWith('.distill.json') && (doc.uri.scheme === 'file' || doc.uri.scheme === 'untitled');
}

function toRange(doc: vscode.TextDocument, offset: number, length: number): vscode.Range {
  return new vscode.Range(doc.positionAt(offset), doc.positionAt(offset + Math.max(1, length)));
}

export class ConfigDiagnostics implements vscode.Disposable {
  private readonly collection = vscode.languages.createDiagnosticCollection('distillery');
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly log: vscode.LogOutputChannel) {
    this.disposables.push(
      this.collection,
      vscode.workspace.onDidOpenTextDocument((d) => this.schedule(d, 0)),
      vscode.workspace.onDidChangeTextDocument((e) => this.schedule(e.document, DEBOUNCE_MS)),
      vscode.workspace.onDidSaveTextDocument((d) => this.schedule(d, 0)),
      vscode.workspace.onDidCloseTextDocument((d) => this.collection.delete(d.uri)),
      // Files a config names may have appeared meanwhile (a teacher download, a data folder).
      vscode.window.onDidChangeActiveTextEditor((e) => e && this.schedule(e.document, 0)),
    );
    for (const d of vscode.workspace.textDocuments) this.schedule(d, 0);
  }

  schedule(doc: vscode.TextDocument, delay: number): void {
    if (!isConfigDocument(doc)) return;
    const key = doc.uri.toString();
    const t = this.timers.get(key);
    if (t) clearTimeout(t);
    this.timers.set(
      key,
      setTimeout(() => {
        this.timers.delete(key);
        void this.validate(doc);
      }, delay),
    );
  }

  private async validate(doc: vscode.TextDocument): Promise<void> {
    if (doc.isClosed) return;
    const version = doc.version;
    const text = doc.getText();
    try {
      const v = await loadValidator();
      const { semantic } = v.validateForEditor(text, doc.fileName);
      if (doc.isClosed || doc.version !== version) return;
      this.collection.set(
        doc.uri,
        semantic.map((p) => toDiagnostic(doc, p, v.diagnosticMessage(p), v.DIAGNOSTIC_SOURCE)),
      );
    } catch (e) {
      this.log.error(`validating ${doc.fileName}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    }
  }

  dispose(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    for (const d of this.disposables) d.dispose();
  }
}

function toDiagnostic(doc: vscode.TextDocument, p: ConfigProblem, message: string, source: string): vscode.Diagnostic {
  const d = new vscode.Diagnostic(
    toRange(doc, p.range?.offset ?? 0, p.range?.length ?? 1),
    message,
    p.severity === 'warning' ? vscode.DiagnosticSeverity.Warning : vscode.DiagnosticSeverity.Error,
  );
  d.source = source;
  d.code = p.pathText || undefined;
  return d;
}

/**
 * Quick Fixes for every engine problem under the cursor, schema ones included: the squiggle may
 * come from the JSON language service, the fix from here.
 */
export class ConfigCodeActions implements vscode.CodeActionProvider {
  static readonly metadata: vscode.CodeActionProviderMetadata = {
    providedCodeActionKinds: [vscode.CodeActionKind.QuickFix],
  };

  /** The last validation, per document version: VS Code asks for actions on every cursor move. */
  private cache:
    | {
        uri: string;
        version: number;
        problems: ConfigProblem[];
        ctx: { studentLayers?: number; teacherLayers?: number };
      }
    | undefined;

  async provideCodeActions(
    doc: vscode.TextDocument,
    range: vscode.Range | vscode.Selection,
    context: vscode.CodeActionContext,
  ): Promise<vscode.CodeAction[]> {
    if (!isConfigDocument(doc)) return [];
    const v = await loadValidator();
    const text = doc.getText();
    if (this.cache?.uri !== doc.uri.toString() || this.cache.version !== doc.version) {
      const o = v.outlineConfig(text, doc.fileName);
      this.cache = {
        uri: doc.uri.toString(),
        version: doc.version,
        problems: v.validateForEditor(text, doc.fileName).all,
        ctx: { studentLayers: o.student.layers, teacherLayers: o.teacher.layers },
      };
    }
    const { problems: all, ctx } = this.cache;
    const out: vscode.CodeAction[] = [];
    for (const p of all) {
      if (!p.range) continue;
      const pr = toRange(doc, p.range.offset, p.range.length);
      if (!pr.intersection(range) && !pr.contains(range.start)) continue;
      const related = context.diagnostics.filter((d) => d.range.intersection(pr));
      for (const f of v.quickFixesFor(text, p, ctx)) out.push(toCodeAction(doc, f, related));
    }
    // After "Advise Layer Mapping" on this file: its proposal, wherever the cursor is on "mapping".
    const advice = adviceStore.get(doc.fileName);
    // Stale once the config's depths changed: the pairs were measured for other models.
    const fits = advice && advice.student.layers === ctx.studentLayers && advice.teacher.layers === ctx.teacherLayers;
    const span = fits ? v.mappingSpan(text) : undefined;
    if (advice && span) {
      const sr = toRange(doc, span.offset, span.length);
      if (sr.intersection(range) || sr.contains(range.start)) {
        for (const f of v.advisedMappingFix(text, advice.proposed)) out.push(toCodeAction(doc, f, []));
      }
    }
    return out;
  }
}

function toCodeAction(doc: vscode.TextDocument, f: QuickFix, related: vscode.Diagnostic[]): vscode.CodeAction {
  const action = new vscode.CodeAction(f.title, vscode.CodeActionKind.QuickFix);
  action.edit = toWorkspaceEdit(doc, f.edits);
  action.isPreferred = f.preferred;
  if (related.length) action.diagnostics = related;
  return action;
}

export function toWorkspaceEdit(doc: vscode.TextDocument, edits: readonly TextEditData[]): vscode.WorkspaceEdit {
  const edit = new vscode.WorkspaceEdit();
  for (const e of edits)
    edit.replace(doc.uri, new vscode.Range(doc.positionAt(e.offset), doc.positionAt(e.offset + e.length)), e.newText);
  return edit;
}

/** "▶ Start run" at the top of a config; "■ Stop" and "Dashboard" while one of its runs is going. */
export class ConfigCodeLens implements vscode.CodeLensProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.changed.event;
  private readonly subscriptions: vscode.Disposable[];

  constructor(private readonly manager: RunManager) {
    // The lenses show running runs: redraw when a launch changes or a run stops running.
    this.subscriptions = [
      manager.onDidChangeLaunch(() => this.changed.fire()),
      manager.onDidChangeRun((c) => {
        if (c.state?.status !== 'running' || c.removed) this.changed.fire();
      }),
    ];
  }

  provideCodeLenses(doc: vscode.TextDocument): vscode.CodeLens[] {
    if (!isConfigDocument(doc)) return [];
    const top = new vscode.Range(0, 0, 0, 0);
    const lenses = [
      new vscode.CodeLens(top, {
        title: '▶ Start run',
        command: 'distillery.startRun',
        arguments: [doc.uri],
        tooltip: 'Validate this config and start a training run',
      }),
    ];
    const file = path.resolve(doc.fileName);
    for (const s of this.manager.store.states()) {
      if (s.status !== 'running' || !s.configFile || path.resolve(s.configFile) !== file) continue;
      lenses.push(
        new vscode.CodeLens(top, { title: `■ Stop ${s.runId}`, command: 'distillery.stopRun', arguments: [s.runDir] }),
        new vscode.CodeLens(top, { title: 'Dashboard', command: 'distillery.openDashboard', arguments: [s.runDir] }),
      );
    }
    return lenses;
  }

  dispose(): void {
    for (const d of this.subscriptions) d.dispose();
    this.changed.dispose();
  }
}

/** The runs a hover looks at (the run store, or a stand-in in tests). */
export interface RunStates {
  states(): ReadonlyArray<Pick<RunState, 'runDir' | 'runId' | 'status' | 'lastEval' | 'best'>>;
}

/**
 * Hovering a field: mean ± std of the final main metric of the workspace's finished runs per value
 * they gave it (same task as this file when it names one), when they tried at least two values.
 */
export class ConfigHover implements vscode.HoverProvider {
  /** Finished runs' resolved configs never change: read each once. */
  private readonly configs = new Map<string, FlatConfig>();

  constructor(private readonly runs: RunStates) {}

  async provideHover(doc: vscode.TextDocument, position: vscode.Position): Promise<vscode.Hover | undefined> {
    if (!isConfigDocument(doc)) return undefined;
    const v = await loadValidator();
    const at = v.configFieldAt(doc.getText(), doc.offsetAt(position));
    if (!at) return undefined;
    const outcomes: RunOutcome[] = [];
    for (const s of this.runs.states()) {
      if (s.status !== 'finished') continue;
      const config = this.runConfig(s.runDir);
      if (!config) continue;
      const m = s.lastEval ?? s.best;
      outcomes.push({
        runId: s.runId,
        finished: true,
        metric: m ? { name: m.metric, value: m.value } : undefined,
        config,
      });
    }
    const task = at.config['task.name'];
    const o = fieldOutcomes(at.path, outcomes, task === undefined ? {} : { 'task.name': task });
    if (!o) return undefined;
    const md = new vscode.MarkdownString(formatFieldOutcomes(o, at.config[at.path]));
    return new vscode.Hover(md);
  }

  private runConfig(runDir: string): FlatConfig | undefined {
    const cached = this.configs.get(runDir);
    if (cached) return cached;
    const r = readFlatRunConfig(runDir);
    if (r.config) this.configs.set(runDir, r.config);
    return r.config;
  }
}
