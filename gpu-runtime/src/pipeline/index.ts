/** The generation pipeline and its building blocks, for benchmarks and for reading Easel's PNGs. */
export { generate, type GeneratedImage, type GenerateOptions, type GenerationRequest } from './generate.js';
export { NoisePrefetcher } from './noise-prefetch.js';
export { encodePng, readParameters, readPngText } from './png.js';
export { encodePreview, latentToRgb, ProgressReporter, type OnProgress, type Progress } from './preview.js';
