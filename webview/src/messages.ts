/**
 * The webview's side of the host protocol: the VS Code API handle, and validation of everything
 * that arrives (a malformed message is dropped and reported back to the host, never rendered).
 */
import { decodeHostMessage, type HostMessage, type WebviewMessage } from '../../src/protocol/webview-messages';

export interface VsCodeApi {
  postMessage(message: WebviewMessage): void;
  getState(): unknown;
  setState(state: unknown): void;
}

declare global {
  // Provided by VS Code inside webviews; callable once per page.
  var acquireVsCodeApi: (() => VsCodeApi) | undefined;
}

/** The VS Code API, or a stand-in that logs (so the bundle also opens in a plain browser). */
export function getVsCodeApi(): VsCodeApi {
  if (typeof globalThis.acquireVsCodeApi === 'function') return globalThis.acquireVsCodeApi();
  let state: unknown;
  return {
    postMessage: (m) => console.info('[distillery webview → host]', m),
    getState: () => state,
    setState: (s) => {
      state = s;
    },
  };
}

/** Reports are capped: a host that keeps sending garbage must not get a flood back. */
const MAX_ERROR_REPORTS = 20;

export class MessageGate {
  private errorsReported = 0;

  constructor(private readonly post: (m: WebviewMessage) => void) {}

  /**
   * The message if it is a valid HostMessage (after reviving wire-form "NaN"/"Infinity" values);
   * otherwise reports it and returns undefined.
   */
  accept(data: unknown): HostMessage | undefined {
    const decoded = decodeHostMessage(data);
    if (decoded.message) return decoded.message;
    this.reportError(`ignored a malformed message from the host: ${decoded.problem}`);
    return undefined;
  }

  reportError(message: string): void {
    if (this.errorsReported >= MAX_ERROR_REPORTS) return;
    this.errorsReported++;
    this.post({ type: 'error', message });
  }
}
