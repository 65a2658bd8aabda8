/**
 * What differed between runs: each run's resolved config (runs/<id>/config.json) flattened to
 * dotted paths (`optim.lr`, `student.layers`), and the paths whose values are not the same in
 * every run. Arrays are leaves (shown as JSON): a mapping like [[1,2],[2,4]] is one setting, not
 * one column per pair. Pure; no vscode, no DOM.
 */

/** A leaf of a flattened config: arrays become their JSON text. */
export type ConfigScalar = string | number | boolean | null;

export type FlatConfig = Record<string, ConfigScalar>;

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return !!x && typeof x === 'object' && !Array.isArray(x);
}

/** The config as dotted path → leaf value; an empty object flattens to nothing. */
export function flattenConfig(config: unknown, prefix = ''): FlatConfig {
  const out: FlatConfig = {};
  const walk = (x: unknown, at: string): void => {
    if (isPlainObject(x)) {
      for (const [k, v] of Object.entries(x)) walk(v, at ? `${at}.${k}` : k);
      return;
    }
    if (!at) return;
    if (Array.isArray(x)) out[at] = JSON.stringify(x);
    else if (typeof x === 'string' || typeof x === 'boolean' || x === null) out[at] = x;
    else if (typeof x === 'number') out[at] = x;
    // undefined, functions: not JSON, not a setting
  };
  walk(config, prefix);
  return out;
}

/** A key for equality: 1 and "1" differ, as do null and a missing value. */
function valueKey(v: ConfigScalar | undefined): string {
  return v === undefined ? 'missing' : `${typeof v}:${String(v)}`;
}

/**
 * The paths (sorted) whose values are not all the same across the configs; a path missing from
 * some configs but present in others counts as differing. Fewer than two configs: none.
 */
export function differingFields(configs: readonly FlatConfig[]): string[] {
  if (configs.length < 2) return [];
  const paths = new Set<string>();
  for (const c of configs) for (const p of Object.keys(c)) paths.add(p);
  const out: string[] = [];
  for (const p of paths) {
    const first = valueKey(configs[0][p]);
    if (configs.some((c) => valueKey(c[p]) !== first)) out.push(p);
  }
  return out.sort();
}

/** The flattened configs narrowed to the given paths (missing values stay missing). */
export function pickFields(config: FlatConfig, paths: readonly string[]): FlatConfig {
  const out: FlatConfig = {};
  for (const p of paths) if (Object.prototype.hasOwnProperty.call(config, p)) out[p] = config[p];
  return out;
}
