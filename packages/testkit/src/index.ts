/** Test infrastructure (see package.json): import it by name, never by a relative path across apps. */
export * from './agents';
export * from './databases';
export * from './datasets-on-disk';
export * from './fault-stack';
export * from './hand-agent';
export * from './http';
export * from './models-on-disk';
export * from './own-services';
export * from './processes';
export * from './redis';
export * from './reference-stats';
export * from './requirements';
export * from './services';
export * from './specs';
export * from './stack';
export * from './trial-rows';
