/** The sweep spec: validation, grid expansion, trial identity and ranking. */
export * from './spec-schema';
export * from './expand-sweep';
export * from './ranking';
export * from './statistics';
export { canonicalJson, sha256 } from './canonical';
export { downsampleSeries } from './downsample';
export * from './schedule-analysis';
