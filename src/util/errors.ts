/**
 * An error caused by something the user supplied (a config, a data file, a checkpoint, a flag).
 * The CLI prints these without a stack trace; `where` says which file/line/field is at fault and
 * `fix` says what would repair it.
 */
export class UserError extends Error {
  readonly where?: string;
  readonly fix?: string;

  constructor(message: string, opts: { where?: string; fix?: string } = {}) {
    super(opts.where ? `${opts.where}: ${message}` : message);
    this.name = 'UserError';
    this.where = opts.where;
    this.fix = opts.fix;
  }

  /** The message plus the suggested fix, as shown to a user. */
  describe(): string {
    return this.fix ? `${this.message}\n  fix: ${this.fix}` : this.message;
  }
}

export function isUserError(e: unknown): e is UserError {
  return e instanceof UserError;
}
