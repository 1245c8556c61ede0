/** The GPU function: its Lambda handler and its configuration. */
export { createHandler, handler, type InvocationContext, type JobOutcome } from './handler.js';
export { loadFunctionConfig, type FunctionConfig } from './config.js';
