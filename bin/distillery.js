#!/usr/bin/env node
'use strict';
// The CLI is bundled to dist/cli.js by `npm run build` (run automatically by `npm install`).
const path = require('node:path');
const fs = require('node:fs');
const bundle = path.join(__dirname, '..', 'dist', 'cli.js');
if (!fs.existsSync(bundle)) {
  process.stderr.write(`distillery: ${bundle} is missing; run \`npm run build\` in ${path.dirname(__dirname)} first.\n`);
  process.exit(2);
}
require(bundle).main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => { process.stderr.write(`distillery: ${err && err.stack ? err.stack : err}\n`); process.exitCode = 1; },
);
