import { describe, expect, it } from 'vitest';
import { BACKENDS, errorCode, gql, ok, startTestServer, tokenFor, user, type TestServer } from '../support/harness.js';

const CREATE = 'mutation ($name: String!) { createSession(name: $name) { id ownerId createdAt } }';
const SESSIONS = 'query ($limit: Int, $before: ID) { sessions(limit: $limit, before: $before) { id ownerId } }';

type Listed = { id: string; ownerId: string };

/** Every page of `sessions(limit:)`, following `before` until a short page. */
async function allPages(server: TestServer, token: string, limit: number) {
  const pages: Listed[][] = [];
  let before: string | undefined;
  for (;;) {
    const page = (await ok(server, SESSIONS, { limit, before }, token)).sessions as Listed[];
    pages.push(page);
    if (page.length < limit) return pages;
    before = page.at(-1)!.id;
  }
}

describe.each(BACKENDS)('sessions paging on the %s backend', (backend) => {
  it('pages newest first with `limit` and `before`, each session once, ties in the same millisecond too', async () => {
    const server = await startTestServer({ backend });
    const admin = await tokenFor(user('admin-1', ['admin']));
    const agents = [await tokenFor(user('agent-1', ['agent'])), await tokenFor(user('agent-2', ['agent']))];
    // Created at once, so several share a creation millisecond (the index's score).
    const created: Listed[] = [];
    for (let round = 0; round < 3; round++) {
      const batch = await Promise.all(
        Array.from({ length: 5 }, (_, i) => ok(server, CREATE, { name: `Phone ${round}.${i}` }, agents[i % 2]!)),
      );
      created.push(...batch.map((data) => data.createSession as Listed));
    }

    const everything = (await ok(server, SESSIONS, { limit: 500 }, admin)).sessions as Listed[];
    expect(everything.map((s) => s.id).sort()).toEqual(created.map((s) => s.id).sort());
    // The default page (100) holds them all, as the list without arguments always did.
    expect((await ok(server, '{ sessions { id } }', {}, admin)).sessions).toHaveLength(15);

    const pages = await allPages(server, admin, 4);
    expect(pages.map((page) => page.length)).toEqual([4, 4, 4, 3]);
    expect(pages.flat()).toEqual(everything);

    // An agent pages through their own sessions only, in the same order.
    const own = await allPages(server, agents[1]!, 2);
    expect(own.flat()).toEqual(everything.filter((s) => s.ownerId === 'agent-2'));
    expect(own.slice(0, -1).every((page) => page.length === 2)).toBe(true);
  });

  it('refuses a bad limit and a cursor the viewer may not see', async () => {
    const server = await startTestServer({ backend });
    const agent = await tokenFor(user('agent-1', ['agent']));
    const other = await tokenFor(user('agent-2', ['agent']));
    const foreign = await tokenFor(user('admin-x', ['admin'], 'org-b'));
    const theirs = (await ok(server, CREATE, { name: 'Theirs' }, other)).createSession as Listed;
    const foreignOne = (await ok(server, CREATE, { name: 'Foreign' }, foreign)).createSession as Listed;

    for (const limit of [0, 501]) {
      expect(errorCode(await gql(server, SESSIONS, { limit }, { token: agent }))).toBe('BAD_USER_INPUT');
    }
    expect(errorCode(await gql(server, SESSIONS, { before: theirs.id }, { token: agent }))).toBe('NOT_FOUND');
    expect(errorCode(await gql(server, SESSIONS, { before: foreignOne.id }, { token: agent }))).toBe('NOT_FOUND');
    expect(errorCode(await gql(server, SESSIONS, { before: 'no-such-session' }, { token: agent }))).toBe('NOT_FOUND');
  });
});
