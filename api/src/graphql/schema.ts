import 'reflect-metadata';
import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { buildSchema } from 'type-graphql';
import { AccountResolver } from './accounts/account-resolver.js';
import { TokenResolver } from './accounts/token-resolver.js';
import { authChecker } from './auth.js';
import { CatalogResolver } from './catalog/catalog-resolver.js';
import { LoraResolver } from './catalog/lora-resolver.js';
import { DomainErrors } from './errors.js';
import { GenerationResolver } from './generations/generation-resolver.js';
import { GenerationSubscriptions } from './generations/generation-subscriptions.js';
import { ParametersResolver } from './parameters/parameters-resolver.js';
import { AnalyzedPromptResolver, PromptResolver } from './prompts/prompt-resolver.js';
import type { EaselPubSub } from '../generations/events/event-bus.js';
import { createEaselPubSub } from '../generations/events/in-process.js';
import { SamplerResolver } from './samplers/sampler-resolver.js';
import { HeartbeatResolver } from './system/heartbeat-resolver.js';
import { validateInput } from './validation.js';
import { WebhookResolver } from './webhooks/webhook-resolver.js';

/** Every resolver class of the API. A new GraphQL module is one more line here. */
export const RESOLVERS = [
  AccountResolver,
  TokenResolver,
  CatalogResolver,
  LoraResolver,
  GenerationResolver,
  GenerationSubscriptions,
  PromptResolver,
  AnalyzedPromptResolver,
  ParametersResolver,
  SamplerResolver,
  HeartbeatResolver,
  WebhookResolver,
] as const;

export function buildEaselSchema(pubSub: EaselPubSub): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers: RESOLVERS,
    pubSub,
    authChecker,
    validateFn: validateInput,
    globalMiddlewares: [DomainErrors],
  });
}

const HEADER = '# The Easel GraphQL schema. Generated from the code by `npm run schema:emit`; do not edit.\n\n';

/** The SDL committed as schema/schema.graphql, sorted so that it changes only when the API does. */
export async function printEaselSchema(): Promise<string> {
  const schema = await buildEaselSchema(createEaselPubSub());
  return HEADER + printSchema(lexicographicSortSchema(schema)) + '\n';
}
