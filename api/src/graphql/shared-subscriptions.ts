import { createSourceEventStream, execute, print, type DocumentNode, type ExecutionArgs, type ExecutionResult } from 'graphql';

/*
 * Subscriptions that share their work. graphql-js's `subscribe` executes the selection set once
 * per event per subscriber; with a crowd watching one generation, that execution (resolvers,
 * middlewares) is most of the cost of each update. Here an event is executed once per operation
 * (query text, operation name, variables) and caller, and every subscriber with that key gets the
 * same result.
 *
 * What it relies on:
 * - An event is one published object: the same object reaches every stream it concerns, and a
 *   stream that must be executed again (something outside the object changed) yields a new one.
 * - A result depends on the context only through `callerKey`: two subscriptions whose contexts
 *   give the same key would have got the same result.
 * - Results may also depend on the time (queue positions are counted when executed, image links
 *   expire), so a result is shared only by the subscriptions that reach its event together:
 *   while it is executed, or in the same turn of the event loop. One held up (a slow client's
 *   socket) executes it afresh when it gets there, as it would alone.
 * Each subscription still reads its own stream and gets its events in its own order; only the
 * execution of an event is shared.
 */

type Result = ExecutionResult | Promise<ExecutionResult>;

/** A `subscribe` for graphql-ws's `useServer`, sharing executions between subscriptions of the same key. */
export function sharedSubscribe(callerKey: (contextValue: unknown) => string) {
  const results = new WeakMap<object, Map<string, Result>>();

  return async (args: ExecutionArgs): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> => {
    const stream = await createSourceEventStream(args);
    if (!(Symbol.asyncIterator in stream)) return stream; // errors: no such subscription, or it refused to start
    const key = JSON.stringify([operationText(args.document), args.operationName ?? null, args.variableValues ?? {}, callerKey(args.contextValue)]);
    return mapStream(stream, (event) => {
      const run = () => execute({ ...args, rootValue: event });
      if (typeof event !== 'object' || event === null) return run();
      let byKey = results.get(event);
      if (!byKey) results.set(event, (byKey = new Map()));
      let result = byKey.get(key);
      if (result) return result;
      // The first subscription to reach the event executes it; those that come together share it.
      result = run();
      byKey.set(key, result);
      const forget = () => setImmediate(() => byKey.delete(key));
      void Promise.resolve(result).then(forget, forget);
      return result;
    });
  };
}

/** The text an operation was parsed from: equal texts are the same operation. */
function operationText(document: DocumentNode): string {
  return document.loc?.source.body ?? print(document);
}

/**
 * `source` with `map` applied to each value, in order. Closing it closes `source` at once, not
 * after its pending read (which, for a stream waiting for its next event, may never come).
 */
function mapStream<T, R>(source: AsyncIterable<T>, map: (value: T) => R | Promise<R>): AsyncIterableIterator<R> {
  const iterator = source[Symbol.asyncIterator]();
  const close = async () => void (await iterator.return?.());
  return {
    async next() {
      const step = await iterator.next();
      if (step.done) return { done: true, value: undefined };
      try {
        return { done: false, value: await map(step.value) };
      } catch (error) {
        await close();
        throw error;
      }
    },
    async return() {
      await close();
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
