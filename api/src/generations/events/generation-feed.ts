import type { EaselPubSub } from './event-bus.js';
import { FINAL_STATUSES, GenerationModel, type GenerationDocument } from '../generation.js';
import { findOwnGeneration } from '../create/generation-service.js';
import {
  ALL_GENERATIONS_TOPIC,
  compareVersions,
  GENERATION_TOPIC,
  generationVersion,
  USER_GENERATIONS_TOPIC,
  type PublishedGeneration,
} from './publisher.js';
import { isAhead, queuePosition } from '../dispatch/queue.js';

/*
 * The subscriptions' side of publisher.ts: streams of Generation updates, in order.
 *
 * - A stream listens before it reads what it starts from, so nothing published in between is
 *   missed; whatever is not newer than what it already gave (generationVersion) is skipped, so
 *   the start state is never followed by an older one, and updates never go backwards.
 * - Queue positions change without their own job changing: when another job ahead leaves the
 *   queue (or re-enters it for a retry). While a stream follows QUEUED jobs it also watches all
 *   jobs' updates for that, and gives a followed job again when its position moved.
 * - Each object a stream gives is one state at one moment: the published object itself, shared by
 *   every stream it reaches, so that their subscriptions execute it once; a state given again (a
 *   queue move) is a new object.
 */

const isFinal = (generation: PublishedGeneration) => FINAL_STATUSES.includes(generation.status);
const idOf = (generation: PublishedGeneration) => generation._id.toHexString();

/** `generationUpdated`: the caller's generation now, then each change, ending after its final status. */
export async function followGeneration(pubSub: EaselPubSub, userId: string, id: string): Promise<AsyncIterableIterator<PublishedGeneration>> {
  const inbox = new TopicInbox(pubSub);
  inbox.listen(GENERATION_TOPIC, id);
  try {
    const start = await findOwnGeneration(userId, id);
    return closable(oneGeneration(inbox, withoutSecret(start)), inbox);
  } catch (error) {
    inbox.close();
    throw error;
  }
}

/** `myGenerations`: every change to any of the user's generations, from now on. */
export async function followUserGenerations(pubSub: EaselPubSub, userId: string): Promise<AsyncIterableIterator<PublishedGeneration>> {
  const inbox = new TopicInbox(pubSub);
  inbox.listen(USER_GENERATIONS_TOPIC, userId);
  try {
    const queued = await GenerationModel.find({ userId, status: 'QUEUED' }).lean<GenerationDocument[]>();
    return closable(userGenerations(inbox, queued.map(withoutSecret)), inbox);
  } catch (error) {
    inbox.close();
    throw error;
  }
}

async function* oneGeneration(inbox: TopicInbox, start: PublishedGeneration): AsyncGenerator<PublishedGeneration> {
  try {
    const queue = new QueueWatch(inbox);
    let latest = start;
    await queue.follow(latest);
    yield latest;
    while (!isFinal(latest)) {
      const event = await inbox.next();
      if (!event) return;
      if (event.topic === ALL_GENERATIONS_TOPIC) {
        yield* await queue.movedBy(event.generation);
      } else if (compareVersions(generationVersion(event.generation), generationVersion(latest)) > 0) {
        latest = event.generation;
        await queue.follow(latest);
        yield latest;
      }
    }
  } finally {
    inbox.close();
  }
}

async function* userGenerations(inbox: TopicInbox, queued: PublishedGeneration[]): AsyncGenerator<PublishedGeneration> {
  try {
    const queue = new QueueWatch(inbox);
    const versions = new Map<string, number[]>();
    for (const generation of queued) {
      versions.set(idOf(generation), generationVersion(generation));
      await queue.follow(generation);
    }
    for (let event = await inbox.next(); event; event = await inbox.next()) {
      if (event.topic === ALL_GENERATIONS_TOPIC) {
        yield* await queue.movedBy(event.generation);
        continue;
      }
      const { generation } = event;
      const version = generationVersion(generation);
      const seen = versions.get(idOf(generation));
      if (seen && compareVersions(version, seen) <= 0) continue;
      versions.set(idOf(generation), version);
      await queue.follow(generation);
      yield generation;
    }
  } finally {
    inbox.close();
  }
}

/**
 * The queue positions of the QUEUED generations a stream follows, and when they move. A job's
 * position changes only when a job ahead of it enters or leaves the queue, so each other job's
 * last known queue membership is kept, and positions are counted again only when one flips.
 */
class QueueWatch {
  private readonly followed = new Map<string, { generation: PublishedGeneration; position: number }>();
  /** Other jobs seen since following began: whether each was QUEUED. Final ones are forgotten. */
  private readonly queued = new Map<string, boolean>();

  constructor(private readonly inbox: TopicInbox) {}

  /** Takes a followed generation's latest state: its position is watched while it is QUEUED. */
  async follow(generation: PublishedGeneration): Promise<void> {
    // Only a QUEUED job has a position: the test spares every other update (progress) a wait.
    const position = generation.status === 'QUEUED' ? await queuePosition(generation) : null;
    if (position === null) this.followed.delete(idOf(generation));
    else this.followed.set(idOf(generation), { generation, position });
    // All jobs' updates are only needed while a followed job waits in the queue.
    if (this.followed.size) {
      this.inbox.listen(ALL_GENERATIONS_TOPIC);
    } else {
      this.inbox.stop(ALL_GENERATIONS_TOPIC);
      this.queued.clear();
    }
  }

  /** The followed generations whose position changed because of `other`'s update. */
  async movedBy(other: PublishedGeneration): Promise<PublishedGeneration[]> {
    const id = idOf(other);
    const nowQueued = other.status === 'QUEUED';
    const before = this.queued.get(id);
    if (isFinal(other)) this.queued.delete(id);
    else this.queued.set(id, nowQueued);
    if (before === nowQueued) return [];
    const moved: PublishedGeneration[] = [];
    for (const [followedId, entry] of this.followed) {
      if (followedId === id || !isAhead(other, entry.generation)) continue;
      const position = await queuePosition(entry.generation);
      if (position === null || position === entry.position) continue;
      entry.position = position;
      // A new object: the one given before was executed with the old position (see the top).
      moved.push({ ...entry.generation });
    }
    return moved;
  }
}

/** Updates from pubSub topics, merged in the order they were published, read one at a time. */
class TopicInbox {
  private readonly events: { topic: string; generation: PublishedGeneration }[] = [];
  /** Stops listening, by topic (with its id, if any). */
  private readonly sources = new Map<string, () => void>();
  private wake: (() => void) | undefined;
  private closed = false;
  /** Set when the bus lost events this inbox may have needed: next() throws it. */
  private interrupted: Error | undefined;

  constructor(private readonly pubSub: EaselPubSub) {}

  listen(topic: string, id?: string): void {
    const key = id === undefined ? topic : `${topic}:${id}`;
    if (this.closed || this.sources.has(key)) return;
    const stop = this.pubSub.listen(
      topic,
      id,
      (generation) => {
        this.events.push({ topic, generation: generation as PublishedGeneration });
        this.wake?.();
      },
      (error) => {
        this.interrupted ??= error;
        this.wake?.();
      },
    );
    this.sources.set(key, stop);
  }

  stop(topic: string): void {
    this.sources.get(topic)?.();
    this.sources.delete(topic);
  }

  /** The next event; undefined once closed; throws once the bus was interrupted (events may be lost). */
  async next(): Promise<{ topic: string; generation: PublishedGeneration } | undefined> {
    while (this.events.length === 0 && !this.closed && !this.interrupted) {
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
    if (this.interrupted && !this.closed) throw this.interrupted;
    return this.closed ? undefined : this.events.shift();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const stop of this.sources.values()) stop();
    this.sources.clear();
    this.events.length = 0;
    this.wake?.();
  }
}

/**
 * An async generator's `return()` waits for the generator to reach a `yield`, which a stream
 * waiting for its next event never does: a client that unsubscribes would leave its listeners
 * behind. Closing the inbox first ends that wait.
 */
function closable<T>(generator: AsyncGenerator<T>, inbox: TopicInbox): AsyncIterableIterator<T> {
  return {
    next: () => generator.next(),
    return: (value?: unknown) => {
      inbox.close();
      return generator.return(value as T);
    },
    throw: (error?: unknown) => {
      inbox.close();
      return generator.throw(error);
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

function withoutSecret({ jobSecret: _secret, ...generation }: GenerationDocument): PublishedGeneration {
  return generation;
}
