import { Agent, request } from 'node:http';

/**
 * Kept-alive connections to the servers under test. `node:http` rather than
 * `fetch`: undici's streams, `Headers` and `Response` cost the bench's own
 * process about a millisecond per request, which the send latency measured
 * (phase 6) would otherwise include.
 */
const agent = new Agent({ keepAlive: true });

/**
 * POSTs a GraphQL operation to `url` (a server's `/graphql`) with a bearer
 * token: the benches' one way to create their fixtures and to send over our
 * HTTP API. Throws, with the start of the operation, when it has errors.
 */
export async function postGraphql(
  url: string,
  token: string,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<Record<string, any>> {
  const payload = JSON.stringify({ query, variables });
  const text = await new Promise<string>((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
          authorization: `Bearer ${token}`,
        },
      },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (data += chunk));
        res.on('end', () => resolve(data));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
  const body = JSON.parse(text) as { data?: Record<string, any> | null; errors?: unknown[] };
  if (body.errors || !body.data) throw new Error(`${query.slice(0, 40)} failed: ${JSON.stringify(body.errors)}`);
  return body.data;
}
