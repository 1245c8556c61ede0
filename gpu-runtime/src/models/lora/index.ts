/** LoRAs merged into a model's weights per request, with onnxruntime doing the matrix work, and cached per set. */
export { applyLoras, type AppliedLora, type LoraChoice, type LoraSet } from './apply-loras.js';
export { LoraFileError } from './errors.js';
export { findTarget, indexWeights, sgmCandidates, type WeightTarget } from './key-map.js';
export { readLoraContents, type LoraContents, type LoraModule, type ModelPart } from './lora-file.js';
export { LoraCache, loraCache, type AcquiredModel } from './lora-cache.js';
export { readGraph } from './onnx-wire.js';
export { PartWeights } from './part-weights.js';
export { parseSafetensors, readSafetensors, toFloat32, type SafetensorsFile, type StoredTensor } from './safetensors.js';
