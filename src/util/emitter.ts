/**
 * Typed events in vscode's shape (Event<T>, Disposable), for modules that must not import vscode:
 * a vscode.Disposable can hold what `event(listener)` returns, and the listener's lifetime ends
 * with it.
 */
export interface Disposable {
  dispose(): void;
}

export type Event<T> = (listener: (e: T) => void) => Disposable;

export class Emitter<T> implements Disposable {
  private listeners: Array<(e: T) => void> = [];

  readonly event: Event<T> = (listener) => {
    this.listeners.push(listener);
    return {
      dispose: () => {
        const i = this.listeners.indexOf(listener);
        if (i >= 0) this.listeners.splice(i, 1);
      },
    };
  };

  fire(e: T): void {
    // A copy: a listener may unsubscribe while the event is delivered.
    for (const l of [...this.listeners]) l(e);
  }

  dispose(): void {
    this.listeners = [];
  }
}
