/**
 * Everything that needs the config parser, the JSON Schema and ajv: loaded on first use (see
 * load-validator.ts), so activation does not parse or initialise it. The build may emit it as its
 * own file (dist/validator-entry.js) to keep dist/extension.js small.
 */
export { validateForEditor, diagnosticMessage, toDiagnostics, DIAGNOSTIC_SOURCE } from './config-diagnostics';
export { quickFixesFor, advisedMappingFix, mappingSpan } from './quick-fixes';
export { outlineConfig } from './config-outline';
export { configFieldAt } from '../experiment/field-at';
