import type { FlagSpec, Flags, PositionalSpec } from './args';
import type { CliIO } from './io';

/** One CLI verb: its help text, its arguments, and what it does. Returns the exit code. */
export interface Verb {
  name: string;
  summary: string;
  positionals: PositionalSpec[];
  flags: FlagSpec[];
  /** Extra help text: examples, notes. */
  details?: string;
  run(flags: Flags, io: CliIO): Promise<number>;
}

export const BACKEND_FLAG: FlagSpec = {
  name: 'backend',
  type: 'string',
  value: 'NAME',
  description: 'auto (default), tensorflow-gpu, tensorflow, wasm or cpu',
};

export const JSON_FLAG: FlagSpec = {
  name: 'json',
  type: 'boolean',
  description: 'print JSON on stdout instead of a readable summary',
};
