import { GraphQLInt, GraphQLObjectType, GraphQLSchema, GraphQLString, parse, type ExecutionResult } from 'graphql';
import { describe, expect, it } from 'vitest';
import type { User } from '../../src/accounts/accounts.js';
import { callerKey, type GraphQLContext } from '../../src/graphql/context.js';
import type { Services } from '../../src/services.js';
import { createEaselPubSub } from '../../src/generations/events/in-process.js';
import { sharedSubscribe } from '../../src/graphql/shared-subscriptions.js';

/*
 * The sharing rules on a schema made to expose them: `viewer` depends on the caller, `scaled` on
 * a variable, `clock` on when it is executed, and every execution of `ticks` is counted.
 */

interface Tick {
  n: number;
}

function setUp() {
  const pubSub = createEaselPubSub();
  const counts = { executions: 0, clock: 0 };
  const TickType = new GraphQLObjectType<Tick, GraphQLContext>({
    name: 'Tick',
    fields: {
      n: { type: GraphQLInt },
      viewer: { type: GraphQLString, resolve: (_tick, _args, { user }) => (user ? `${user.name} (${user.plan})` : null) },
      scaled: { type: GraphQLInt, args: { by: { type: GraphQLInt } }, resolve: (tick, { by }) => tick.n * by },
      clock: { type: GraphQLInt, resolve: () => counts.clock },
    },
  });
  const schema = new GraphQLSchema({
    query: new GraphQLObjectType({ name: 'Query', fields: { n: { type: GraphQLInt } } }),
    subscription: new GraphQLObjectType({
      name: 'Subscription',
      fields: {
        ticks: {
          type: TickType,
          subscribe: () => pubSub.subscribe('TICK', 'all'),
          resolve: (tick: Tick) => {
            counts.executions++;
            return tick;
          },
        },
      },
    }),
  });
  const subscribe = sharedSubscribe((context) => callerKey(context as GraphQLContext));

  /** One subscription as graphql-ws makes it: its own parse of the text, its own context. */
  async function open(user: User | undefined, query: string, variableValues?: Record<string, unknown>) {
    const contextValue: GraphQLContext = { user, services: {} as Services };
    const stream = await subscribe({ schema, document: parse(query), contextValue, variableValues });
    if (!(Symbol.asyncIterator in stream)) throw new Error(`did not subscribe: ${JSON.stringify(stream.errors)}`);
    return stream;
  }
  const read = async (stream: AsyncIterator<ExecutionResult>) => (await stream.next()).value as ExecutionResult;
  const publish = (tick: Tick) => pubSub.publish('TICK', 'all', tick);
  return { pubSub, counts, open, read, publish };
}

const user = (id: string, name: string, plan: User['plan'] = 'FREE'): User => ({ id, name, plan, role: 'USER', createdAt: new Date('2026-01-01T00:00:00Z') });
const alice = user('a1', 'alice');
const bob = user('b2', 'bob');

describe('sharedSubscribe', () => {
  // A pubSub stream listens from its first read on: each test reads before it publishes.

  it("executes an event once per caller: a user's subscriptions get the same result, and nobody gets another's", async () => {
    const { counts, open, read, publish } = setUp();
    const query = 'subscription { ticks { n viewer } }';
    const alices = [await open(alice, query), await open(alice, query)];
    const others = [
      await open(bob, query),
      // The same user after an upgrade is another caller: what resolvers see of them changed.
      await open({ ...alice, plan: 'PLUS' }, query),
      await open(undefined, query),
    ];
    const reads = [...alices, ...others].map(read);

    publish({ n: 1 });
    const [first, second, ...rest] = await Promise.all(reads);
    expect(first).toEqual({ data: { ticks: { n: 1, viewer: 'alice (FREE)' } } });
    expect(second).toEqual(first);
    expect(rest).toEqual([
      { data: { ticks: { n: 1, viewer: 'bob (FREE)' } } },
      { data: { ticks: { n: 1, viewer: 'alice (PLUS)' } } },
      { data: { ticks: { n: 1, viewer: null } } },
    ]);
    expect(counts.executions).toBe(4);

    // Each event is executed again, and comes in order.
    publish({ n: 2 });
    publish({ n: 3 });
    for (const stream of [...alices, ...others]) {
      expect([(await read(stream)).data?.ticks, (await read(stream)).data?.ticks]).toEqual([
        expect.objectContaining({ n: 2 }),
        expect.objectContaining({ n: 3 }),
      ]);
    }
    expect(counts.executions).toBe(12);
  });

  it('executes apart what differs in variables or operation', async () => {
    const { counts, open, read, publish } = setUp();
    const scaled = 'subscription ($by: Int) { ticks { scaled(by: $by) } }';
    const streams = [await open(alice, scaled, { by: 2 }), await open(alice, scaled, { by: 3 }), await open(alice, 'subscription { ticks { n } }')];
    const reads = streams.map(read);

    publish({ n: 5 });
    expect(await Promise.all(reads)).toEqual([{ data: { ticks: { scaled: 10 } } }, { data: { ticks: { scaled: 15 } } }, { data: { ticks: { n: 5 } } }]);
    expect(counts.executions).toBe(3);
  });

  it('executes an event afresh for a subscription that reaches it after the others', async () => {
    const { counts, open, read, publish } = setUp();
    const query = 'subscription { ticks { clock } }';
    const prompt = await open(alice, query);
    const late = await open(alice, query);
    const reads = [read(prompt), read(late)];
    publish({ n: 0 });
    expect(await Promise.all(reads)).toEqual([{ data: { ticks: { clock: 0 } } }, { data: { ticks: { clock: 0 } } }]);
    expect(counts.executions).toBe(1);

    publish({ n: 1 });
    expect(await read(prompt)).toEqual({ data: { ticks: { clock: 0 } } });
    // The turn ends and the world moves on before the other subscription reads the same event.
    await new Promise((resolve) => setImmediate(resolve));
    counts.clock = 1;
    expect(await read(late)).toEqual({ data: { ticks: { clock: 1 } } });
    expect(counts.executions).toBe(3);
  });

  it('lets go of its source at once when closed, even while it waits for an event', async () => {
    const { pubSub, open } = setUp();
    const stream = await open(alice, 'subscription { ticks { n } }');
    const waiting = stream.next();
    await new Promise((resolve) => setImmediate(resolve));
    expect(pubSub.listenerCount('TICK', 'all')).toBe(1);

    await stream.return!();
    expect(await waiting).toEqual({ done: true, value: undefined });
    expect(pubSub.listenerCount('TICK', 'all')).toBe(0);
  });

  it('gives the errors, not a stream, when the subscription cannot start', async () => {
    const { open } = setUp();
    await expect(open(alice, 'subscription { nothing }')).rejects.toThrow(/nothing/);
  });
});
