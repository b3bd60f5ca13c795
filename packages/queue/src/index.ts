/** BullMQ on Redis for the contract's job catalog: a producer and a consumer per project's pool. */
export * from './connection';
export * from './producer';
export * from './consumer';
export { DelayedError, UnrecoverableError, type Job, type Worker } from 'bullmq';
