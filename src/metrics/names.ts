/** What every metric of this server's own starts with (prom-client's default process metrics keep their standard names). */
export const METRIC_PREFIX = 'realtime_graphql_';
