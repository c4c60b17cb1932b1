/**
 * `@realtime-graphql/publisher/client`: what a front end (browser, React
 * Native, Node) adds to its graphql-ws client to resume subscriptions after
 * a reconnect and keep its token fresh on the open socket. No Node-only
 * imports and no runtime dependency: graphql-ws is the app's own.
 */
export { withResume, type ResumeClientOptions } from './with-resume.js';
export type { UnrecoveredSubscription, ResumeParams } from './resume-tracker.js';
