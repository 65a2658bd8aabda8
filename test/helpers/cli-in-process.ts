// `distillery …args` run in this process (src/cli/main.ts) with captured output: faster than a
// child process, for tests that need the verb's result rather than the launcher's behaviour.
import { PassThrough } from 'node:stream';
import { main } from '../../src/cli/main';

export async function runMain(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  stderr.on('data', (c: Buffer) => {
    err += c.toString();
  });
  const code = await main(args, { stdout, stderr, stdin: new PassThrough(), interactive: false });
  return { code, stdout: out, stderr: err };
}
