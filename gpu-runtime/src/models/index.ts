/** Finding, loading and caching ONNX model folders; typed wrappers that hide each export's dtypes. */
export { GpuUnavailableError, ModelLoadError, type ModelLoadErrorCode } from './errors.js';
export { openSession, type ExecutionProvider } from './execution-provider.js';
export { float16ToFloat32, float32ToFloat16 } from './half-precision.js';
export { checkFolder as checkModelFolder, LoadedModel, loadModel, REQUIRED_FILES, unloadModel, type TextEncoderStage } from './load-model.js';
export type { FloatTensor } from './onnx-io.js';
export { architectureOf, readPipelineKind, type PipelineArchitecture } from './pipeline-config.js';
export { TextEncoder, type HiddenStateChoice, type TextEncoderOutput } from './text-encoder.js';
export { UNet, type UNetConditioning, type UNetConditioningInput, type UNetInput } from './unet.js';
export { VaeDecoder, VaeEncoder } from './vae.js';
export { bflTransformerPrecision, FLUX_PIPELINE_CLASS, FLUX_REQUIRED_FILES, FluxModel, isFluxFolder, loadFluxModel, resolveFluxLayout, unloadFluxModel, type FluxLayout, type Residency } from './flux/index.js';
