/** The streams a verb talks to; tests pass in-memory ones. */
export interface CliIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream;
  /** Whether stderr is a terminal (progress bars are drawn only then). */
  interactive: boolean;
}

export function processIO(): CliIO {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    interactive: Boolean(process.stderr.isTTY),
  };
}

export function writeLine(stream: NodeJS.WritableStream, text = ''): void {
  stream.write(text + '\n');
}

/** Writes JSON to stdout and waits for it to drain, so a pipe reader gets all of it before exit. */
export function writeJson(io: CliIO, value: unknown, pretty = true): Promise<void> {
  return new Promise((resolve) => {
    const text = (pretty ? JSON.stringify(value, null, 2) : JSON.stringify(value)) + '\n';
    if (io.stdout.write(text)) resolve();
    else io.stdout.once('drain', () => resolve());
  });
}
