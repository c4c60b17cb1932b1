import type { TestServer } from '../support/harness.js';
import { remoteServer } from './support.js';

export const remoteServerFromUrl = (url: string): TestServer => remoteServer(url);

/** One GraphQL request over HTTP with a bearer token. */
export async function gql(
  target: TestServer,
  query: string,
  token: string,
  variables: Record<string, unknown> = {},
  operationName?: string,
): Promise<{ data?: unknown; errors?: { message: string }[] }> {
  const response = await fetch(target.graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables, operationName }),
  });
  return (await response.json()) as { data?: unknown; errors?: { message: string }[] };
}

/** {@link gql}, failing on any error. */
export async function ok<Data>(target: TestServer, query: string, token: string): Promise<Data> {
  const result = await gql(target, query, token);
  if (result.errors?.length) throw new Error(`Unexpected errors: ${JSON.stringify(result.errors)}`);
  return result.data as Data;
}
