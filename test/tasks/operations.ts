import { ok, tokenFor, user, type TestServer } from '../support/harness.js';

/** Every field of a task, as a task board would select it. */
export const TASK_FIELDS =
  'id title description assigneeId status progress notes { id authorId text createdAt } noteCount createdAt updatedAt';

export const CREATE = `mutation ($input: CreateTaskInput!) { createTask(input: $input) { ${TASK_FIELDS} } }`;
export const UPDATE = `mutation ($id: ID!, $input: UpdateTaskInput!) { updateTask(id: $id, input: $input) { ${TASK_FIELDS} } }`;
export const ASSIGN = `mutation ($id: ID!, $assigneeId: ID) { assignTask(id: $id, assigneeId: $assigneeId) { ${TASK_FIELDS} } }`;
export const STATUS = `mutation ($id: ID!, $status: TaskStatus!) { setTaskStatus(id: $id, status: $status) { ${TASK_FIELDS} } }`;
export const PROGRESS = `mutation ($id: ID!, $progress: Int!) { setTaskProgress(id: $id, progress: $progress) { ${TASK_FIELDS} } }`;
export const NOTE = `mutation ($id: ID!, $text: String!) { addTaskNote(id: $id, text: $text) { ${TASK_FIELDS} } }`;
export const TASK = `query ($id: ID!) { task(id: $id) { ${TASK_FIELDS} } }`;
export const TASKS = `query ($assigneeId: ID, $status: TaskStatus, $limit: Int, $before: ID) {
  tasks(assigneeId: $assigneeId, status: $status, limit: $limit, before: $before) { id }
}`;
export const EVENTS = `subscription ($taskId: ID, $assigneeId: ID) {
  taskEvents(taskId: $taskId, assigneeId: $assigneeId) {
    __typename
    ... on Event { occurredAt }
    ... on TaskCreated { task { ${TASK_FIELDS} } }
    ... on TaskAssigned { task { ${TASK_FIELDS} } previousAssigneeId }
    ... on TaskUpdated { task { ${TASK_FIELDS} } }
    ... on TaskStatusChanged { task { ${TASK_FIELDS} } status }
    ... on TaskProgressChanged { task { ${TASK_FIELDS} } progress }
    ... on TaskCompleted { task { ${TASK_FIELDS} } }
    ... on TaskNoteAdded { task { ${TASK_FIELDS} } note { id authorId text createdAt } }
  }
}`;

/** A task as the API returns it. */
export type Task = {
  id: string;
  title: string;
  description: string | null;
  assigneeId: string | null;
  status: string;
  progress: number;
  notes: { id: string; authorId: string; text: string; createdAt: string }[];
  noteCount: number;
  createdAt: string;
  updatedAt: string;
};

/** Members of org-a with each role, and of org-b. */
export async function tokens() {
  return {
    agent: await tokenFor(user('agent-1', ['agent'])),
    admin: await tokenFor(user('admin-1', ['admin'])),
    service: await tokenFor(user('svc-1', ['service'])),
    member: await tokenFor(user('member-1', [])),
    foreignAdmin: await tokenFor(user('admin-x', ['admin'], 'org-b')),
  };
}

export async function createTask(
  server: TestServer,
  token: string,
  input: { title: string; description?: string | null; assigneeId?: string | null } = { title: 'Call the customer' },
): Promise<Task> {
  return (await ok(server, CREATE, { input }, token)).createTask as Task;
}

/** Runs a task mutation that must succeed and returns the task it answers with. */
export async function change(server: TestServer, token: string, mutation: string, variables: Record<string, unknown>) {
  const data = await ok(server, mutation, variables, token);
  return Object.values(data)[0] as Task;
}

/** The ids of `tasks(...)` for `filter`. */
export async function listIds(server: TestServer, token: string, filter: Record<string, unknown> = {}) {
  const data = await ok(server, TASKS, filter, token);
  return (data.tasks as { id: string }[]).map((task) => task.id);
}
