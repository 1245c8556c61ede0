import { Types } from 'mongoose';
import { describe, expect, it } from 'vitest';
import type { GenerationDocument } from '../../src/generations/generation.js';
import {
  ALL_GENERATIONS_TOPIC,
  compareVersions,
  GENERATION_TOPIC,
  generationVersion,
  publishGeneration,
  USER_GENERATIONS_TOPIC,
} from '../../src/generations/events/publisher.js';
import { createEaselPubSub } from '../../src/generations/events/in-process.js';

type State = Pick<GenerationDocument, 'status' | 'attempt' | 'lastSequence' | 'cancelRequested'>;

const queued: State = { status: 'QUEUED', attempt: 0, lastSequence: -1, cancelRequested: false };
// Each step as the dispatcher and the callback endpoint store it (claim: attempt + 1, sequence reset).
const claim = (state: State): State => ({ ...state, status: 'RUNNING', attempt: state.attempt + 1, lastSequence: -1 });
const event = (state: State): State => ({ ...state, lastSequence: state.lastSequence + 1 });
const requeue = (state: State): State => ({ ...state, status: 'QUEUED' });
const cancelRequested = (state: State): State => ({ ...state, cancelRequested: true });
const end = (state: State, status: State['status']): State => ({ ...state, status });

const version = (state: State) => generationVersion(state as GenerationDocument);

function expectIncreasing(states: State[]): void {
  for (let i = 1; i < states.length; i++) {
    expect(compareVersions(version(states[i]), version(states[i - 1])), JSON.stringify([states[i - 1], states[i]])).toBeGreaterThan(0);
  }
}

describe('generationVersion', () => {
  it('moves forward through every stored change of a job, a retry included', () => {
    const running = claim(queued);
    const started = event(running);
    const stepped = event(started);
    const silent = requeue(stepped);
    const retried = claim(silent);
    expectIncreasing([queued, running, started, stepped, silent, retried, event(retried), event(event(retried)), end(event(event(retried)), 'SUCCEEDED')]);
  });

  it('counts a cancel request, and ranks any final status above everything else', () => {
    const running = event(event(claim(queued)));
    expectIncreasing([running, cancelRequested(running), event(cancelRequested(running)), end(event(cancelRequested(running)), 'CANCELLED')]);
    expectIncreasing([event(event(event(claim(claim(queued))))), end(queued, 'CANCELLED')]);
  });

  it('puts a state equal to itself at zero', () => {
    const state = event(claim(queued));
    expect(compareVersions(version(state), version({ ...state }))).toBe(0);
  });
});

describe('publishGeneration', () => {
  it('publishes to the generation, its owner and everyone, without the job secret', async () => {
    const pubSub = createEaselPubSub();
    const id = new Types.ObjectId();
    const topics = [
      pubSub.subscribe(GENERATION_TOPIC, id.toHexString()),
      pubSub.subscribe(USER_GENERATIONS_TOPIC, 'user-1'),
      (pubSub.subscribe as (topic: string, id?: string) => AsyncIterable<unknown>).call(pubSub, ALL_GENERATIONS_TOPIC),
    ].map((iterable) => iterable[Symbol.asyncIterator]());
    const received = topics.map((iterator) => iterator.next());

    publishGeneration(pubSub, { _id: id, userId: 'user-1', status: 'RUNNING', jobSecret: 'do-not-share' } as GenerationDocument);
    for (const result of await Promise.all(received)) {
      expect(result.value).toEqual({ _id: id, userId: 'user-1', status: 'RUNNING' });
    }
    await Promise.all(topics.map((iterator) => iterator.return?.()));
  });

  it("sends a running job's progress to everyone only when it has a webhook: it moves no queue position", () => {
    const pubSub = createEaselPubSub();
    const heard: string[] = [];
    pubSub.listen(ALL_GENERATIONS_TOPIC, undefined, (generation) => heard.push((generation as { note: string }).note));
    const publish = (note: string, fields: Partial<GenerationDocument>) =>
      publishGeneration(pubSub, { _id: new Types.ObjectId(), userId: 'user-1', note, ...fields } as unknown as GenerationDocument);
    publish('queued', { status: 'QUEUED', lastSequence: -1 });
    publish('claimed', { status: 'RUNNING', lastSequence: -1 });
    publish('progress', { status: 'RUNNING', lastSequence: 3 });
    publish('progress with a webhook', { status: 'RUNNING', lastSequence: 3, webhook: { url: 'https://example.com/hook', events: ['progress'] } });
    publish('requeued after a silent lease', { status: 'QUEUED', lastSequence: 3 });
    publish('ended', { status: 'SUCCEEDED', lastSequence: 4 });
    expect(heard).toEqual(['queued', 'claimed', 'progress with a webhook', 'requeued after a silent lease', 'ended']);
  });
});
