/**
 * A one-line progress bar on stderr, drawn only on a terminal (pipes and log files get nothing,
 * so machine-readable stdout stays clean). Redraws at most ~10 times a second.
 */
export class ProgressBar {
  private done = 0;
  private lastDraw = 0;
  private readonly start = Date.now();

  constructor(
    private readonly stream: NodeJS.WritableStream,
    private readonly enabled: boolean,
    private readonly total: number,
    private readonly label: string,
  ) {}

  tick(n = 1, suffix = ''): void {
    this.done += n;
    const now = Date.now();
    if (!this.enabled || (now - this.lastDraw < 100 && this.done < this.total)) return;
    this.lastDraw = now;
    const width = 30;
    const frac = this.total > 0 ? Math.min(1, this.done / this.total) : 1;
    const filled = Math.round(frac * width);
    const elapsed = (now - this.start) / 1000;
    const eta = frac > 0 ? (elapsed * (1 - frac)) / frac : 0;
    this.stream.write(
      `\r${this.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${this.done}/${this.total} ${elapsed.toFixed(0)}s eta ${eta.toFixed(0)}s ${suffix}\x1b[K`,
    );
  }

  finish(): void {
    if (this.enabled) this.stream.write('\n');
  }
}
