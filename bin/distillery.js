#!/usr/bin/env node
'use strict';
// The CLI is bundled to dist/cli.js by `npm run build` (run automatically by `npm install`).
const path = require('node:path');
const fs = require('node:fs');
const bundle = path.join(__dirname, '..', 'dist', 'cli.js');
if (!fs.existsSync(bundle)) {
  process.stderr.write(
    `distillery: ${bundle} is missing; run \`npm run build\` in ${path.dirname(__dirname)} first.\n`,
  );
  process.exit(2);
}
const cli = require(bundle);
// main() reports every error itself (user errors as message + fix, bugs as one line and a log
// file); this catches only what escapes it, in the same one-line form.
cli.main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(
      `${cli.reportInternalError(undefined, err, { version: cli.VERSION, argv: process.argv.slice(2) })}\n`,
    );
    process.exitCode = 1;
  },
);
