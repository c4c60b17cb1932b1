/**
 * What an HTTP operation's context carries about its request: the signal
 * that aborts when the client goes away. WebSocket operations are marked
 * `transport: 'websocket'`; graphql-ws ends them itself.
 */
interface OperationContext {
  transport?: 'websocket';
  signal?: AbortSignal;
}

/**
 * Makes `cleanup` run exactly once: when the returned function is called
 * (the operation ended), or, for HTTP and SSE, when the client goes away
 * first. Yoga never reads, and so never ends, the stream of an SSE client
 * that disconnected while its subscription was being set up: without this,
 * what the subscription holds (a count, a connection slot) is never given back.
 */
export function releaseWhenGone(context: unknown, cleanup: () => void): () => void {
  const { transport, signal } = (context ?? {}) as OperationContext;
  let done = false;
  const release = () => {
    if (done) return;
    done = true;
    signal?.removeEventListener('abort', release);
    cleanup();
  };
  if (transport !== 'websocket' && signal) {
    if (signal.aborted) release();
    else signal.addEventListener('abort', release, { once: true });
  }
  return release;
}
