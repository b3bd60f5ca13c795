export { buildApp, type App, type AppOptions } from './app';
export { readEnv as readApiEnv, appSettings, defaultSettings } from './env';
export { createApiLogger, redactedPaths } from './logger';
export { reconcileOnce } from './reconciler';
