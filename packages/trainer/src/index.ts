/**
 * The TF.js training core: datasets, models, optimizers, backend selection and the training
 * loop. No database, Redis or environment: a config in, callbacks and a result out.
 */
export * from './backend';
export * from './datasets';
export * from './train';
export * from './asha-rung';
export { classifyTrainingError } from './errors';
export { createRng } from './rng';
export { createModel, type InputShape, type Model, type ModelData, type ModelSpec } from './models';
export { patchWasmKernels } from './wasm-kernels';
export { fusedOpsActive, fusedOpsPath, loadFusedOps, setFusedOps } from './native-ops';
export { createOptimizer, type OptimizerSpec } from './optimizers';
export { version_core as tfjsVersion } from '@tensorflow/tfjs';
export { loadCifar10, loadIdx } from './dataset-files';
export { loadCsv, loadNpy } from './dataset-arrays';
export { loadText } from './dataset-text';
export { buildLayersModel, type LayersArtifacts, readLayersModel } from './layers-model';
export { evaluateOn, metricNames } from './task';
export { createBackendChooser, type BackendPlan, type TrialBackend } from './backend-choice';
export { estimateTrialMemory, type MemoryEstimate, mib } from './memory';
export { fusedKernelIsa, type NativeSettings, numericsKeyOf } from './numerics';
