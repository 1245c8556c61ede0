/** What Easel's parts agree on: the job contract, its events and signatures, families, samplers, the prompt language. */
export * from './events.js';
export * from './families.js';
export * from './job.js';
export * from './prompt/index.js';
export * from './samplers.js';
export * from './signing.js';
export * from './tiny-model.js';
