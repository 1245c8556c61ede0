import type { GenerationDocument } from '../generation.js';

/** A job the function works on: RUNNING, with its attempt's secret. */
export type RunningJob = GenerationDocument & { jobSecret: string };

/** Jobs remembered at most; past it, the one heard from least recently is forgotten. */
const DEFAULT_CAPACITY = 1_000;

/*
 * The jobs this instance last applied an event to, as that update left them, so that the next
 * event of the same attempt is not preceded by a read of its job: a progress event then costs one
 * conditional update instead of a read and an update.
 *
 * A snapshot is trusted only for what an attempt never changes (its secret, settings, start) and
 * only on the usual path: the event is signed with its secret, names its attempt and comes after
 * its last sequence. The conditional update still judges, and anything off that path (another
 * attempt, a replay, a lost race, a job ended elsewhere) reads the job afresh. With several
 * instances, each remembers what it applied; a snapshot out of date costs a read, never a wrong
 * answer.
 */
export class RunningJobs {
  private readonly jobs = new Map<string, RunningJob>();

  constructor(private readonly capacity = DEFAULT_CAPACITY) {}

  get(id: string): RunningJob | undefined {
    return this.jobs.get(id);
  }

  /** Keeps the job as it now is while it runs; forgets it once it has ended. */
  remember(job: GenerationDocument): void {
    const id = String(job._id);
    this.jobs.delete(id); // re-inserted last: the Map's order is the order of use
    if (job.status !== 'RUNNING' || !job.jobSecret) return;
    const { preview: _preview, ...kept } = job; // the last preview is of no use here
    this.jobs.set(id, kept as RunningJob);
    if (this.jobs.size > this.capacity) this.jobs.delete(this.jobs.keys().next().value!);
  }
}
