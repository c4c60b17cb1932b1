import { describe, expect, it } from 'vitest';
import { errorCode, gql, ok, startTestServer, tokenFor, user, type TestServer } from '../support/harness.js';

/**
 * One create mutation: how to call it with a key and some arguments, and
 * how to count what exists of it.
 */
interface Create {
  name: string;
  /** The mutation's result field. */
  field: string;
  mutation: string;
  /** Arguments of a first call, and different ones for a misuse of its key. */
  args: Record<string, unknown>;
  otherArgs: Record<string, unknown>;
  /** The ids of every resource of this kind the caller can list. */
  list(server: TestServer, token: string, args: Record<string, unknown>): Promise<string[]>;
  /** The id of what a call made (for addTaskNote: the task's newest note). */
  made(result: any): string;
  token: 'agent' | 'admin';
  prepare?(server: TestServer, tokens: Record<string, string>): Promise<Record<string, unknown>>;
}

const creates: Create[] = [
  {
    name: 'createSession',
    field: 'createSession',
    mutation: 'mutation ($name: String!, $key: String) { createSession(name: $name, idempotencyKey: $key) { id } }',
    args: { name: 'Phone' },
    otherArgs: { name: 'Other phone' },
    list: async (server, token) => (await ok(server, '{ sessions { id } }', {}, token)).sessions.map(byId),
    made: (result) => result.id,
    token: 'agent',
  },
  {
    name: 'createConversation',
    field: 'createConversation',
    mutation:
      'mutation ($members: [ID!]!, $key: String) { createConversation(memberIds: $members, idempotencyKey: $key) { id } }',
    args: { members: ['bob'] },
    otherArgs: { members: ['carol'] },
    list: async (server, token) => (await ok(server, '{ conversations { id } }', {}, token)).conversations.map(byId),
    made: (result) => result.id,
    token: 'agent',
  },
  {
    name: 'createTask',
    field: 'createTask',
    mutation:
      'mutation ($title: String!, $key: String) { createTask(input: { title: $title }, idempotencyKey: $key) { id } }',
    args: { title: 'Call back' },
    otherArgs: { title: 'Call again' },
    list: async (server, token) => (await ok(server, '{ tasks { id } }', {}, token)).tasks.map(byId),
    made: (result) => result.id,
    token: 'agent',
  },
  {
    name: 'addTaskNote',
    field: 'addTaskNote',
    mutation:
      'mutation ($task: ID!, $text: String!, $key: String) { addTaskNote(id: $task, text: $text, idempotencyKey: $key) { notes { id } } }',
    args: { text: 'Left a voicemail' },
    otherArgs: { text: 'Left two voicemails' },
    prepare: async (server, tokens) => ({
      task: (await ok(server, 'mutation { createTask(input: { title: "t" }) { id } }', {}, tokens.agent)).createTask.id,
    }),
    list: async (server, token, args) =>
      (
        await ok(server, 'query ($id: ID!) { task(id: $id) { notes { id } } }', { id: args.task }, token)
      ).task.notes.map(byId),
    made: (result) => result.notes.at(-1).id,
    token: 'agent',
  },
  {
    name: 'createCampaign',
    field: 'createCampaign',
    mutation: `mutation ($session: ID!, $message: String!, $key: String) {
      createCampaign(input: { name: "Sale", sessionId: $session, message: $message, recipients: ["+15550100001"] }, idempotencyKey: $key) { id }
    }`,
    args: { message: 'Hello' },
    otherArgs: { message: 'Goodbye' },
    prepare: async (server, tokens) => ({
      session: (await ok(server, 'mutation { createSession(name: "c") { id } }', {}, tokens.agent)).createSession.id,
    }),
    list: async (server, token) => (await ok(server, '{ campaigns { id } }', {}, token)).campaigns.map(byId),
    made: (result) => result.id,
    token: 'agent',
  },
  {
    name: 'sendNotification',
    field: 'sendNotification',
    mutation: `mutation ($title: String!, $key: String) {
      sendNotification(input: { recipientId: "admin-1", kind: "alert", title: $title }, idempotencyKey: $key) { id }
    }`,
    args: { title: 'Disk full' },
    otherArgs: { title: 'Disk empty' },
    list: async (server, token) => (await ok(server, '{ notifications { id } }', {}, token)).notifications.map(byId),
    made: (result) => result.id,
    token: 'admin',
  },
];

function byId(item: { id: string }) {
  return item.id;
}

async function setup() {
  const server = await startTestServer({ backend: 'redis' });
  const tokens = {
    agent: await tokenFor(user('agent-1', ['agent'])),
    admin: await tokenFor(user('admin-1', ['admin'])),
  };
  return { server, tokens };
}

describe('idempotency keys on every create', () => {
  for (const create of creates) {
    describe(create.name, () => {
      it('creates once for a key: a repeat returns the first result, racing repeats too', async () => {
        const { server, tokens } = await setup();
        const token = tokens[create.token];
        const base = { ...(await create.prepare?.(server, tokens)), ...create.args };
        const before = await create.list(server, token, base);

        const first = await ok(server, create.mutation, { ...base, key: 'key-1' }, token);
        const again = await ok(server, create.mutation, { ...base, key: 'key-1' }, token);
        expect(create.made(again[create.field])).toBe(create.made(first[create.field]));
        const raced = await Promise.all(
          Array.from({ length: 5 }, () => ok(server, create.mutation, { ...base, key: 'key-2' }, token)),
        );
        expect(new Set(raced.map((result) => create.made(result[create.field]))).size).toBe(1);

        const after = await create.list(server, token, base);
        expect(after.length - before.length).toBe(2);
        expect(after).toEqual(
          expect.arrayContaining([create.made(first[create.field]), create.made(raced[0]![create.field])]),
        );

        // Without a key, every call creates.
        await ok(server, create.mutation, base, token);
        expect((await create.list(server, token, base)).length - before.length).toBe(3);
      });

      it('refuses a key reused with other arguments, and a malformed key', async () => {
        const { server, tokens } = await setup();
        const token = tokens[create.token];
        const base = { ...(await create.prepare?.(server, tokens)) };
        await ok(server, create.mutation, { ...base, ...create.args, key: 'key-1' }, token);
        const count = (await create.list(server, token, base)).length;

        const reused = await gql(server, create.mutation, { ...base, ...create.otherArgs, key: 'key-1' }, { token });
        expect(errorCode(reused)).toBe('BAD_USER_INPUT');
        expect(reused.errors![0]!.extensions).toMatchObject({ field: 'idempotencyKey' });
        for (const key of ['', 'x'.repeat(129), 'line\nbreak', ' padded']) {
          const malformed = await gql(server, create.mutation, { ...base, ...create.args, key }, { token });
          expect(errorCode(malformed), JSON.stringify(key)).toBe('BAD_USER_INPUT');
          expect(malformed.errors![0]!.extensions).toMatchObject({ field: 'idempotencyKey' });
        }
        expect((await create.list(server, token, base)).length).toBe(count);
      });
    });
  }

  it('keeps keys apart per user: the same key from someone else creates their own', async () => {
    const { server } = await setup();
    const [one, two] = [await tokenFor(user('agent-1')), await tokenFor(user('agent-2'))];
    const create = creates[2]!;
    const mine = await ok(server, create.mutation, { ...create.args, key: 'shared' }, one);
    const theirs = await ok(server, create.mutation, { ...create.args, key: 'shared' }, two);
    expect(theirs.createTask.id).not.toBe(mine.createTask.id);
  });

  it('does not make again what was deleted since: a retry of its key is refused', async () => {
    const { server, tokens } = await setup();
    const create = creates[0]!;
    const first = await ok(server, create.mutation, { ...create.args, key: 'gone' }, tokens.agent);
    await ok(server, 'mutation ($id: ID!) { deleteSession(id: $id) }', { id: first.createSession.id }, tokens.agent);

    const retried = await gql(server, create.mutation, { ...create.args, key: 'gone' }, { token: tokens.agent });
    expect(errorCode(retried)).toBe('BAD_USER_INPUT');
    expect(retried.errors![0]!.extensions).toMatchObject({ field: 'idempotencyKey' });
    expect(await create.list(server, tokens.agent, create.args)).not.toContain(first.createSession.id);
  });
});
