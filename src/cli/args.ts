/**
 * A small typed command-line parser: `--flag value`, `--flag=value`, boolean `--flag`/`--no-flag`,
 * repeated flags for lists, `--` to end flags. Unknown flags and missing values are UserErrors that
 * name the flag and suggest the closest known one. Their `where` is the flag (or none, for
 * positionals): the CLI already prefixes every message with `distillery <verb>:`.
 */
import { UserError } from '../util/errors';

export type FlagType = 'string' | 'number' | 'boolean' | 'list';

export interface FlagSpec {
  name: string;
  type: FlagType;
  description: string;
  /** Shown in help; `value` placeholder such as "DIR". */
  value?: string;
}

export interface PositionalSpec {
  name: string;
  description: string;
  optional?: boolean;
}

export type FlagValue = string | number | boolean | string[];

export interface ParsedArgs {
  positionals: string[];
  flags: Map<string, FlagValue>;
}

export function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0];
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = dp[j];
      dp[j] = Math.min(dp[j] + 1, dp[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return dp[b.length];
}

export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestD) {
      best = c;
      bestD = d;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

export function parseArgs(
  argv: readonly string[],
  flags: readonly FlagSpec[],
  positionals: readonly PositionalSpec[],
  verb: string,
): ParsedArgs {
  const byName = new Map(flags.map((f) => [f.name, f]));
  const out: ParsedArgs = { positionals: [], flags: new Map() };
  let onlyPositionals = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (onlyPositionals || !arg.startsWith('--') || arg === '-') {
      if (!onlyPositionals && arg.startsWith('-') && arg !== '-' && !/^-\d/.test(arg)) {
        throw new UserError('unknown option', { where: arg, fix: `run \`distillery ${verb} --help\` for the options` });
      }
      out.positionals.push(arg);
      continue;
    }
    if (arg === '--') {
      onlyPositionals = true;
      continue;
    }
    let name = arg.slice(2);
    let inline: string | undefined;
    const eq = name.indexOf('=');
    if (eq >= 0) {
      inline = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    let spec = byName.get(name);
    let negated = false;
    if (!spec && name.startsWith('no-') && byName.get(name.slice(3))?.type === 'boolean') {
      spec = byName.get(name.slice(3));
      negated = true;
    }
    if (!spec) {
      const guess = closest(name, [...byName.keys()]);
      throw new UserError('unknown option', {
        where: `--${name}`,
        fix: guess ? `did you mean --${guess}?` : `run \`distillery ${verb} --help\` for the options`,
      });
    }
    if (spec.type === 'boolean') {
      if (inline !== undefined && !['true', 'false'].includes(inline)) {
        throw new UserError(`takes no value (got "${inline}")`, {
          where: `--${spec.name}`,
          fix: `write --${spec.name} or --no-${spec.name}`,
        });
      }
      out.flags.set(spec.name, negated ? false : inline !== 'false');
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined || (inline === undefined && value.startsWith('--'))) {
      throw new UserError(`needs a value${spec.value ? ` (${spec.value})` : ''}`, {
        where: `--${spec.name}`,
        fix: `write --${spec.name} ${spec.value ?? 'VALUE'}`,
      });
    }
    if (spec.type === 'number') {
      const n = Number(value);
      if (value.trim() === '' || !Number.isFinite(n))
        throw new UserError(`must be a number (got "${value}")`, { where: `--${spec.name}` });
      out.flags.set(spec.name, n);
    } else if (spec.type === 'list') {
      const prev = out.flags.get(spec.name);
      out.flags.set(spec.name, [...(Array.isArray(prev) ? prev : []), value]);
    } else {
      out.flags.set(spec.name, value);
    }
  }
  const required = positionals.filter((p) => !p.optional);
  if (out.positionals.length < required.length) {
    const missing = required
      .slice(out.positionals.length)
      .map((p) => `<${p.name}>`)
      .join(' ');
    throw new UserError(`missing ${missing}`, { fix: `run \`distillery ${verb} --help\`` });
  }
  if (out.positionals.length > positionals.length) {
    throw new UserError(`unexpected argument "${out.positionals[positionals.length]}"`, {
      fix: `run \`distillery ${verb} --help\``,
    });
  }
  return out;
}

/** Typed accessors over parsed flags. */
export class Flags {
  constructor(private readonly parsed: ParsedArgs) {}
  string(name: string): string | undefined {
    const v = this.parsed.flags.get(name);
    return typeof v === 'string' ? v : undefined;
  }
  number(name: string): number | undefined {
    const v = this.parsed.flags.get(name);
    return typeof v === 'number' ? v : undefined;
  }
  /** A number flag that must be an integer from `min` to `max` (a UserError naming the flag otherwise). */
  integer(name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
    const v = this.number(name);
    if (v !== undefined && (!Number.isInteger(v) || v < min || v > max)) {
      throw new UserError(
        max === Number.MAX_SAFE_INTEGER
          ? `must be an integer of at least ${min} (got ${v})`
          : `must be an integer from ${min} to ${max} (got ${v})`,
        { where: `--${name}` },
      );
    }
    return v;
  }
  bool(name: string): boolean {
    return this.parsed.flags.get(name) === true;
  }
  /** Whether the flag was given at all (as --x or --no-x). */
  has(name: string): boolean {
    return this.parsed.flags.has(name);
  }
  list(name: string): string[] {
    const v = this.parsed.flags.get(name);
    return Array.isArray(v) ? v : [];
  }
  get positionals(): string[] {
    return this.parsed.positionals;
  }
}
