import { setTimeout as sleep } from 'node:timers/promises';
import { Arg, Authorized, Field, Int, ObjectType, Resolver, Root, Subscription, type SubscribeResolverData } from 'type-graphql';
import { ErrorCode, graphqlError } from '../errors.js';

@ObjectType({ description: 'One beat of the heartbeat subscription.' })
export class Heartbeat {
  @Field(() => Int, { description: 'Counts from 1.' })
  beat!: number;

  @Field()
  at!: Date;
}

const MIN_INTERVAL_MS = 50;
const MAX_INTERVAL_MS = 60_000;

/**
 * A subscription that needs nothing but a signed-in caller: a way to check that WebSocket
 * subscriptions and their authentication work, e.g. from GraphiQL.
 */
@Resolver()
export class HeartbeatResolver {
  @Authorized()
  @Subscription(() => Heartbeat, {
    description: 'Beats every `intervalMs` milliseconds, `count` times (default: until you stop).',
    subscribe: ({ args }: SubscribeResolverData) => beats(args.intervalMs as number, (args.count as number | null) ?? Infinity),
  })
  heartbeat(
    @Root() beat: Heartbeat,
    @Arg('intervalMs', () => Int, { defaultValue: 1000 }) _intervalMs: number,
    @Arg('count', () => Int, { nullable: true }) _count?: number,
  ): Heartbeat {
    return beat;
  }
}

function beats(intervalMs: number, count: number): AsyncGenerator<Heartbeat> {
  if (intervalMs < MIN_INTERVAL_MS || intervalMs > MAX_INTERVAL_MS) {
    throw graphqlError(ErrorCode.BAD_USER_INPUT, `intervalMs must be between ${MIN_INTERVAL_MS} and ${MAX_INTERVAL_MS}.`);
  }
  if (count < 1) throw graphqlError(ErrorCode.BAD_USER_INPUT, 'count must be at least 1.');
  return (async function* () {
    for (let beat = 1; beat <= count; beat++) {
      await sleep(intervalMs);
      yield { beat, at: new Date() };
    }
  })();
}
