import { createConnection, createServer, type Socket } from 'node:net';

/**
 * A TCP proxy in front of a real Redis that injects network faults: it can
 * stall the first command that carries a marker (and everything after it
 * on that connection) for a while before passing it on, as a Redis stalled
 * past the client's command timeout would; or cut every connection and
 * refuse new ones, as a Redis that went away. Nothing is faked: every
 * command that gets through runs on the real server.
 */
export async function startRedisProxy(target: { port: number }) {
  const pairs = new Set<{ client: Socket; upstream: Socket }>();
  let refusing = false;
  let stall: { marker: string; ms: number; hit: () => void } | undefined;
  let drop: { marker: string; hit: () => void } | undefined;

  const server = createServer((client) => {
    if (refusing) return client.destroy();
    const upstream = createConnection({ port: target.port, host: '127.0.0.1' });
    const pair = { client, upstream };
    pairs.add(pair);
    let held: Buffer[] | undefined;
    let muted = false;
    let tail = '';
    client.on('data', (chunk: Buffer) => {
      if (held) return void held.push(chunk);
      const text = tail + chunk.toString('latin1');
      tail = text.slice(-256);
      const dropping = drop;
      if (dropping && text.includes(dropping.marker)) {
        // Redis runs the command; its reply is lost with the connection.
        drop = undefined;
        muted = true;
        upstream.write(chunk);
        setTimeout(() => {
          close();
          dropping.hit();
        }, 100);
        return;
      }
      const armed = stall;
      if (armed && text.includes(armed.marker)) {
        stall = undefined;
        held = [chunk];
        armed.hit();
        setTimeout(() => {
          for (const part of held ?? []) upstream.write(part);
          held = undefined;
        }, armed.ms);
        return;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (!muted) client.write(chunk);
    });
    const close = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', close);
    upstream.on('close', close);
    client.on('error', close);
    upstream.on('error', close);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };

  return {
    url: `redis://127.0.0.1:${port}`,
    /**
     * Holds the next command whose bytes contain `marker` for `ms` before
     * Redis gets it; resolves when such a command arrives.
     */
    stallNext(marker: string, ms: number): Promise<void> {
      return new Promise((hit) => {
        stall = { marker, ms, hit };
      });
    },
    /**
     * Lets the next command whose bytes contain `marker` reach Redis, then
     * drops its connection before the reply gets back; resolves once dropped.
     */
    dropReplyOfNext(marker: string): Promise<void> {
      return new Promise((hit) => {
        drop = { marker, hit };
      });
    },
    /** Drops every connection and refuses new ones, until {@link restore}. */
    cut() {
      refusing = true;
      for (const { client, upstream } of pairs) {
        client.destroy();
        upstream.destroy();
      }
    },
    restore() {
      refusing = false;
    },
    async close() {
      this.cut();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
