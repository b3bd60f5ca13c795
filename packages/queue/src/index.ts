/** The trial job catalog, its producer and its consumer, shared by the API and the workers. */
export * from './catalog';
export * from './connection';
export * from './producer';
export * from './consumer';
export { DelayedError, UnrecoverableError, type Job } from 'bullmq';
