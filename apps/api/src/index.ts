export { buildApp, type App, type AppOptions } from './app';
export { readEnv as readApiEnv } from './env';
