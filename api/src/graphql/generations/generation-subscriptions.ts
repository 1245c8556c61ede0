import { Arg, Authorized, ID, Resolver, Root, Subscription, type SubscribeResolverData } from 'type-graphql';
import { followGeneration, followUserGenerations } from '../../generations/events/generation-feed.js';
import type { PublishedGeneration } from '../../generations/events/publisher.js';
import type { GraphQLContext } from '../context.js';
import { toGraphQLError } from '../errors.js';
import { Generation } from './generation-types.js';

type SubscribeData = SubscribeResolverData<unknown, Record<string, unknown>, GraphQLContext>;

/** Custom `subscribe` functions run outside the resolver middlewares: map domain errors here. */
const withCodes = <T>(start: Promise<T>): Promise<T> =>
  start.catch((error: unknown) => {
    throw toGraphQLError(error);
  });

@Resolver()
export class GenerationSubscriptions {
  @Authorized()
  @Subscription(() => Generation, {
    description:
      'One of your generations: first its current state, at once (so subscribing late misses nothing), then every ' +
      'change (progress, previews, queue position), in order; it ends after the final status.',
    subscribe: ({ args, context }: SubscribeData) => withCodes(followGeneration(context.services.pubSub, context.user!.id, String(args.id))),
  })
  generationUpdated(@Root() generation: PublishedGeneration, @Arg('id', () => ID) _id: string): PublishedGeneration {
    return generation;
  }

  @Authorized()
  @Subscription(() => Generation, {
    description: 'Every change to any of your generations from now on (new ones included), each generation\'s in order.',
    subscribe: ({ context }: SubscribeData) => withCodes(followUserGenerations(context.services.pubSub, context.user!.id)),
  })
  myGenerations(@Root() generation: PublishedGeneration): PublishedGeneration {
    return generation;
  }
}
