/**
 * Loads the validator, schema and config parser once, on first use (never during activation).
 * A plain require (not import()): bundled, esbuild wraps the module so it initialises only here;
 * if the build emits validator-entry as its own file, the require resolves dist/validator-entry.js.
 */
export type ValidatorModule = typeof import('./validator-entry');

let loaded: ValidatorModule | undefined;

export function loadValidator(): Promise<ValidatorModule> {
  return new Promise((resolve, reject) => {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      loaded ??= require('./validator-entry') as ValidatorModule;
      resolve(loaded);
    } catch (e) {
      reject(e);
    }
  });
}
