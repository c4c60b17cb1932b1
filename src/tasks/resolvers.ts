import type { Resolvers } from '../generated/graphql.js';
import { yieldedEvent } from '../errors.js';

/** Tasks: thin resolvers over {@link TaskService}. */
export const taskResolvers: Resolvers = {
  Query: {
    task: (_, { id }, { viewer, services }) => services.tasks.get(viewer, id),
    tasks: (_, args, { viewer, services }) => services.tasks.list(viewer, args),
  },
  Mutation: {
    createTask: (_, { input, idempotencyKey }, { viewer, services }) =>
      services.tasks.create(viewer, input, idempotencyKey),
    updateTask: (_, { id, input }, { viewer, services }) => services.tasks.update(viewer, id, input),
    assignTask: (_, { id, assigneeId }, { viewer, services }) => services.tasks.assign(viewer, id, assigneeId),
    setTaskStatus: (_, { id, status }, { viewer, services }) => services.tasks.setStatus(viewer, id, status),
    setTaskProgress: (_, { id, progress }, { viewer, services }) => services.tasks.setProgress(viewer, id, progress),
    addTaskNote: (_, { id, text, idempotencyKey }, { viewer, services }) =>
      services.tasks.addNote(viewer, id, text, idempotencyKey),
  },
  Subscription: {
    taskEvents: {
      subscribe: (_, selection, { viewer, services, accessSignal }) =>
        services.tasks.subscribe(viewer, selection, accessSignal()),
      resolve: yieldedEvent,
    },
  },
  Task: {
    noteCount: (task) => task.noteCount ?? task.notes.length,
    notes: (task, args, { services }) => services.tasks.notes(task, args),
  },
};
