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
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: Record<string, any> | null; errors?: unknown[] };
  if (body.errors || !body.data) throw new Error(`${query.slice(0, 40)} failed: ${JSON.stringify(body.errors)}`);
  return body.data;
}
