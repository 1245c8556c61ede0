/** The Easel API server: configuration, the server itself, and its GraphQL schema. */
export { ConfigError, loadConfig, type Config } from './config.js';
export { ALL_GENERATIONS_TOPIC, type PublishedGeneration } from './generations/events/publisher.js';
export { printEaselSchema } from './graphql/schema.js';
export { GRAPHQL_PATH, startServer, type RunningServer, type ServerOverrides } from './server.js';
export { VERSION } from './version.js';
