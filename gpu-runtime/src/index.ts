/** The GPU function: its Lambda handler and its configuration. */
export { createHandler, handler, type InvocationContext, type JobOutcome } from './handler.js';
export { loadFunctionConfig, type FunctionConfig } from './config.js';
/** Seeded noise exactly as torch's CPU generator (CPU) or A1111's NVIDIA-compatible generator (NV) draws it. */
export { randn, type RandnOptions } from './samplers/index.js';
