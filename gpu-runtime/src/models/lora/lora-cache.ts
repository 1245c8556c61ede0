/**
 * Merged models, cached per model folder and LoRA set (files and weights, in any order), so that
 * the next request with the same set costs a map lookup. The sets are kept under a memory budget
 * (EASEL_LORA_CACHE_MB): past it, the least recently used sets that no generation is using are
 * released. A set in use is never released under a running generation.
 *
 * Each set is charged its merged weights plus the full size of each part it re-opened, since
 * onnxruntime holds a session's weights itself; the base weights read into memory for merging
 * (PartWeights) are shared by every set of a model and charged once, to the model.
 */
import path from 'node:path';
import type { Logger } from 'pino';
import { loadModel, type LoadedModel } from '../load-model.js';
import { applyLoras, type AppliedLora, type LoraChoice, type LoraSet } from './apply-loras.js';
import { PartWeights } from './part-weights.js';

export interface AcquiredModel {
  model: LoadedModel;
  loras: AppliedLora[];
  /** Time to merge and open the sessions; 0 on a cache hit or without LoRAs. */
  switchMs: number;
  cacheHit: boolean;
  /** Lets the cache release the set again; call once the generation is done. */
  release(): void;
}

interface Entry {
  set: Promise<LoraSet>;
  bytes: number;
  leases: number;
}

const DEFAULT_BUDGET_MB = 4096;

function budgetFromEnvironment(): number {
  const mb = Number(process.env.EASEL_LORA_CACHE_MB ?? DEFAULT_BUDGET_MB);
  return (Number.isFinite(mb) && mb >= 0 ? mb : DEFAULT_BUDGET_MB) * 1024 ** 2;
}

export class LoraCache {
  private readonly sets = new Map<string, Entry>();
  private readonly parts = new Map<string, Promise<PartWeights>>();

  constructor(private readonly budgetBytes: number = budgetFromEnvironment()) {}

  /** Bytes charged to the cached sets. */
  get bytes(): number {
    return [...this.sets.values()].reduce((sum, entry) => sum + entry.bytes, 0);
  }

  get size(): number {
    return this.sets.size;
  }

  async acquire(dir: string, choices: readonly LoraChoice[], logger?: Logger): Promise<AcquiredModel> {
    const base = await loadModel(dir, { logger });
    if (choices.length === 0) return { model: base, loras: [], switchMs: 0, cacheHit: true, release: () => {} };
    const key = cacheKey(dir, choices);
    let entry = this.sets.get(key);
    const cacheHit = entry !== undefined;
    const started = performance.now();
    if (entry) {
      // Most recently used last.
      this.sets.delete(key);
      this.sets.set(key, entry);
    } else {
      entry = { set: applyLoras(base, choices, { logger, partWeights: (file) => this.partWeights(file) }), bytes: 0, leases: 0 };
      this.sets.set(key, entry);
      entry.set.catch(() => this.sets.delete(key));
    }
    entry.leases++;
    let set: LoraSet;
    try {
      set = await entry.set;
    } catch (error) {
      entry.leases--;
      throw error;
    }
    const switchMs = cacheHit ? 0 : performance.now() - started;
    if (!cacheHit) {
      entry.bytes = set.mergedBytes + (await this.reopenedBytes(base, set));
      await this.evict();
    }
    let released = false;
    const lease = entry;
    return {
      model: set.model,
      loras: set.loras,
      switchMs,
      cacheHit,
      release: () => {
        if (released) return;
        released = true;
        lease.leases--;
        void this.evict();
      },
    };
  }

  /** Releases every set (and forgets the base weights): for tests and unloading. */
  async clear(): Promise<void> {
    const entries = [...this.sets.values()];
    this.sets.clear();
    this.parts.clear();
    await Promise.all(entries.map(async (entry) => (await entry.set.catch(() => undefined))?.model.release()));
  }

  private partWeights(file: string): Promise<PartWeights> {
    let weights = this.parts.get(file);
    if (!weights) {
      weights = PartWeights.read(file);
      this.parts.set(file, weights);
      weights.catch(() => this.parts.delete(file));
    }
    return weights;
  }

  private async reopenedBytes(base: LoadedModel, set: LoraSet): Promise<number> {
    let bytes = 0;
    const reopened = [
      ...set.model.textEncoders.filter((stage, i) => stage.encoder !== base.textEncoders[i].encoder).map((stage) => stage.encoder.file),
      ...(set.model.unet === base.unet ? [] : [set.model.unet.file]),
    ];
    for (const file of reopened) bytes += (await this.partWeights(file)).bytes;
    return bytes;
  }

  private async evict(): Promise<void> {
    for (const [key, entry] of this.sets) {
      if (this.bytes <= this.budgetBytes) return;
      if (entry.leases > 0 || entry.bytes === 0) continue;
      this.sets.delete(key);
      const set = await entry.set.catch(() => undefined);
      await set?.model.release();
    }
  }
}

function cacheKey(dir: string, choices: readonly LoraChoice[]): string {
  const loras = choices.map(({ file, sha256, weight, unetWeight }) => [path.resolve(file), sha256 ?? '', weight, unetWeight ?? weight]).sort((a, b) => String(a).localeCompare(String(b)));
  return JSON.stringify([path.resolve(dir), loras]);
}

/** The process's cache, as loadModel's is. */
export const loraCache = new LoraCache();
