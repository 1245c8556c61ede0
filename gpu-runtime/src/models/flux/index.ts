/** Flux exports: layouts, the five graphs, and a model whose sessions stay resident or load one stage at a time. */
export { FluxModel, loadFluxModel, memoryBudgetBytes, unloadFluxModel, type FluxVaeFactors, type Residency } from './flux-model.js';
export { FluxTransformer, type FluxConditioning, type PreparedFluxConditioning } from './components.js';
export { bflTransformerPrecision, FLUX_PIPELINE_CLASS, FLUX_REQUIRED_FILES, isFluxFolder, resolveFluxLayout, type FluxLayout, type FluxLayoutKind } from './layout.js';
