/**
 * The one contract every layer derives from (zod only): the sweep spec, the API's request and
 * answer schemas and their types, the error catalog, trial and sweep states, token roles, and the
 * job catalog with its retry policy and job-id helper. No package imports an app: the API
 * registers these schemas; the client, CLI, dashboard, worker and trainer import them.
 */
export * from './agents';
export * from './api';
export * from './errors';
export * from './jobs';
export * from './metrics';
export * from './numerics';
export * from './roles';
export * from './scaling';
export * from './search';
export * from './search-views';
export * from './spec';
export * from './states';
export * from './transfer';
export * from './transfer-api';
export type * from './types';
