import { randomUUID } from 'node:crypto';
import { user } from '../../support/harness.js';
import type { Attempt, AttackerKind, Fixtures, World } from './types.js';

const FIELDS =
  'id title description assigneeId status progress notes { id authorId text createdAt } createdAt updatedAt';

/** A task of the owner's organisation with a secret title, description and note, assigned to a colleague. */
async function organisationsTask(world: World) {
  const title = `secret-title-${randomUUID()}`;
  const description = `secret-description-${randomUUID()}`;
  const note = `secret-note-${randomUUID()}`;
  const created = await world.ok(
    'mutation ($input: CreateTaskInput!) { createTask(input: $input) { id } }',
    { input: { title, description, assigneeId: 'assignee-1' } },
    world.owner,
  );
  const id = created.createTask.id as string;
  await world.ok(
    'mutation ($id: ID!, $text: String!) { addTaskNote(id: $id, text: $text) { id } }',
    { id, text: note },
    world.owner,
  );
  const admin = user('org-admin', ['admin']);
  return {
    id,
    secrets: [title, description, note],
    /** Every task of the organisation, as its admin sees them. */
    snapshot: async () => (await world.ok(`{ tasks { ${FIELDS} } }`, {}, admin)).tasks,
    /** The owner moves the task along: one TaskProgressChanged. */
    trigger: async () => {
      await world.ok('mutation ($id: ID!) { setTaskProgress(id: $id, progress: 42) { id } }', { id }, world.owner);
    },
  };
}

/**
 * Tasks: any member of the organisation may read them and watch their
 * events; changing them needs `admin` or `agent`. Another organisation
 * reads them as missing.
 */
const member = user('member-1', []);

/** A change by id: NOT_FOUND for another organisation, FORBIDDEN for a member without the role. */
const change =
  (query: string, variables: (id: string) => Record<string, unknown>) =>
  async (world: World): Promise<Attempt> => {
    const task = await organisationsTask(world);
    return { query, variables: variables(task.id), outcome: 'denied', ...task };
  };

/** A read: missing to another organisation, allowed to any member. */
const read =
  (
    query: string,
    variables: (id: string) => Record<string, unknown> = () => ({}),
    foreign: Attempt['outcome'] = 'denied',
  ) =>
  async (world: World, kind: AttackerKind): Promise<Attempt> => {
    const task = await organisationsTask(world);
    return {
      query,
      variables: variables(task.id),
      outcome: kind === 'foreignOrg' ? foreign : 'allowed',
      ...task,
      witness: world.owner,
    };
  };

export const fixtures: Fixtures = {
  'Query.task': {
    sameOrgWithoutRole: member,
    arrange: read(`query ($id: ID!) { task(id: $id) { ${FIELDS} } }`, (id) => ({ id })),
  },
  'Query.tasks': {
    sameOrgWithoutRole: member,
    arrange: read(`{ tasks { ${FIELDS} } }`, undefined, 'own'),
  },
  'Mutation.createTask': {
    sameOrgWithoutRole: member,
    async arrange(world, kind) {
      const task = await organisationsTask(world);
      return {
        query: `mutation ($input: CreateTaskInput!) { createTask(input: $input) { ${FIELDS} } }`,
        variables: { input: { title: 'planted', assigneeId: 'assignee-1' } },
        // Another organisation may create tasks, in its own organisation.
        outcome: kind === 'foreignOrg' ? 'own' : 'denied',
        ...task,
      };
    },
  },
  'Mutation.updateTask': {
    sameOrgWithoutRole: member,
    arrange: change(
      `mutation ($id: ID!, $input: UpdateTaskInput!) { updateTask(id: $id, input: $input) { ${FIELDS} } }`,
      (id) => ({ id, input: { title: 'hijacked', description: 'hijacked' } }),
    ),
  },
  'Mutation.assignTask': {
    sameOrgWithoutRole: member,
    arrange: change(
      `mutation ($id: ID!, $assigneeId: ID) { assignTask(id: $id, assigneeId: $assigneeId) { ${FIELDS} } }`,
      (id) => ({ id, assigneeId: 'owner' }),
    ),
  },
  'Mutation.setTaskStatus': {
    sameOrgWithoutRole: member,
    arrange: change(
      `mutation ($id: ID!, $status: TaskStatus!) { setTaskStatus(id: $id, status: $status) { ${FIELDS} } }`,
      (id) => ({ id, status: 'DONE' }),
    ),
  },
  'Mutation.setTaskProgress': {
    sameOrgWithoutRole: member,
    arrange: change(
      `mutation ($id: ID!, $progress: Int!) { setTaskProgress(id: $id, progress: $progress) { ${FIELDS} } }`,
      (id) => ({ id, progress: 99 }),
    ),
  },
  'Mutation.addTaskNote': {
    sameOrgWithoutRole: member,
    arrange: change(
      `mutation ($id: ID!, $text: String!) { addTaskNote(id: $id, text: $text) { ${FIELDS} } }`,
      (id) => ({ id, text: 'planted note' }),
    ),
  },
  'Subscription.taskEvents': {
    sameOrgWithoutRole: member,
    arrange: read(
      `subscription ($taskId: ID) {
        taskEvents(taskId: $taskId) {
          __typename
          ... on TaskProgressChanged { task { ${FIELDS} } progress }
        }
      }`,
      (id) => ({ taskId: id }),
    ),
  },
};
