/** Grid expansion, trial identity and ranking statistics over the contract's sweep spec. */
export * from './expand-sweep';
export * from './ranking';
export * from './statistics';
export { canonicalJson, sha256 } from './canonical';
export { downsampleSeries } from './downsample';
export * from './schedule-analysis';
export * from './range-test';
export * from './forks';
export * from './asha';
export * from './transfer';
export * from './transfer-analysis';
export * from './model-scale';
