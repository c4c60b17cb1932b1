/**
 * What ends a caller's live subscriptions when their access lapses, as far
 * as a subscription reads it: whether it has fired, and an `abort` listener.
 * An `AbortSignal` is one (HTTP and SSE use theirs); a WebSocket's
 * operations share the lighter {@link OperationsSignal} of its connection.
 */
export interface AccessSignal {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/**
 * An {@link AccessSignal} that a WebSocket connection holds for its whole
 * life: a flag and its listeners (the connection's running subscriptions).
 * An `AbortController` costs about 900 bytes per connection (an
 * `EventTarget` with two Maps and a map of its own, an object per
 * listener); this costs a few dozen. Listeners run once, in the order
 * they were added, when it aborts; one added after that never runs, as
 * with an `AbortSignal`.
 */
export class OperationsSignal implements AccessSignal {
  aborted = false;
  private listeners: (() => void)[] | undefined;

  addEventListener(_type: 'abort', listener: () => void): void {
    if (this.aborted) return;
    if (this.listeners) this.listeners.push(listener);
    else this.listeners = [listener];
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const index = this.listeners?.indexOf(listener) ?? -1;
    if (index >= 0) this.listeners!.splice(index, 1);
  }

  /** Fires once: every listener runs; one that throws does not keep the others from running. */
  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    const listeners = this.listeners ?? [];
    this.listeners = undefined;
    for (const listener of listeners) {
      try {
        listener();
      } catch (error) {
        // As an EventTarget does: the error is reported as uncaught, the other listeners still run.
        process.nextTick(() => {
          throw error;
        });
      }
    }
  }
}
