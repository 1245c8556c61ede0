/**
 * Marks a model folder as a tiny demo model (written by `@easel/gpu-runtime/tiny-models`), so the
 * API can tell demo models from real ones.
 */
export const TINY_MODEL_MARKER = 'easel-tiny-model.json';
