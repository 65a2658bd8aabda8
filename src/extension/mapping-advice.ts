/**
 * The extension's side of `distillery advise-mapping`: reads the verb's --json result, keeps the
 * latest advice per config file (so the config editor can offer it as a Quick Fix on "mapping"),
 * and words it for a notification. No `vscode` here, so it is tested directly.
 */
import type { MappingAdvice } from '../distill/mapping-report';

export type { MappingAdvice };

const isPairList = (x: unknown): x is Array<[number, number]> =>
  Array.isArray(x) && x.every((p) => Array.isArray(p) && p.length === 2 && p.every((n) => Number.isInteger(n)));
const isMatrix = (x: unknown): x is number[][] =>
  Array.isArray(x) && x.every((r) => Array.isArray(r) && r.every((n) => typeof n === 'number'));

/** The advice the CLI printed, or undefined when stdout is not one (an older CLI, stray output). */
export function parseAdvice(stdout: string): MappingAdvice | undefined {
  let x: unknown;
  try {
    x = JSON.parse(stdout);
  } catch {
    return undefined;
  }
  if (!x || typeof x !== 'object') return undefined;
  const a = x as Partial<MappingAdvice>;
  const ok =
    isPairList(a.proposed) &&
    isPairList(a.current) &&
    isMatrix(a.attentionKl) &&
    isMatrix(a.cost) &&
    (a.clsCosine === null || isMatrix(a.clsCosine)) &&
    typeof a.snippet === 'string' &&
    Array.isArray(a.notes) &&
    !!a.comparison &&
    typeof a.comparison.same === 'boolean' &&
    typeof a.comparison.currentCost === 'number' &&
    typeof a.comparison.proposedCost === 'number';
  return ok ? (x as MappingAdvice) : undefined;
}

const pairsText = (p: ReadonlyArray<[number, number]>): string => `[${p.map(([s, t]) => `[${s}, ${t}]`).join(', ')}]`;

/** One sentence for a notification. */
export function adviceMessage(a: MappingAdvice): string {
  const cost = (x: number) => x.toFixed(3);
  if (a.comparison.same)
    return `the current mapping ${pairsText(a.current)} is already the least-cost one (cost ${cost(a.comparison.proposedCost)}, ${a.examples} dev examples).`;
  return `proposed mapping ${pairsText(a.proposed)}: cost ${cost(a.comparison.proposedCost)} against ${cost(a.comparison.currentCost)} for the current ${pairsText(a.current)} (${a.examples} dev examples).`;
}

/** The latest advice per config file, for the Quick Fix on "mapping". */
export class AdviceStore {
  private readonly byFile = new Map<string, MappingAdvice>();
  set(file: string, advice: MappingAdvice): void {
    this.byFile.set(file, advice);
  }
  get(file: string): MappingAdvice | undefined {
    return this.byFile.get(file);
  }
  delete(file: string): void {
    this.byFile.delete(file);
  }
}

export const adviceStore = new AdviceStore();
