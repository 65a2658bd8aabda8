/**
 * The config field under the cursor in a *.distill.json (comments allowed), as the dotted leaf path
 * the run configs are flattened to, and the file's own settings flattened (for its value and its
 * task). Loaded with the validator (jsonc-parser), on first hover.
 */
import { getLocation, parse } from 'jsonc-parser';
import { flattenConfig, type FlatConfig } from './config-fields';
import { fieldPath } from './field-outcomes';

export interface FieldAt {
  /** e.g. `optim.lr`; a position inside an array names the array (`mapping`). */
  path: string;
  /** The file's settings, flattened (what it sets; not the resolved defaults). */
  config: FlatConfig;
}

export function configFieldAt(text: string, offset: number): FieldAt | undefined {
  const loc = getLocation(text, offset);
  // on a key being typed (no value yet) the location still names it; on punctuation it names nothing
  const path = fieldPath(loc.path);
  if (!path) return undefined;
  const parsed: unknown = parse(text, [], { allowTrailingComma: true });
  return { path, config: flattenConfig(parsed) };
}
