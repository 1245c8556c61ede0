import { access } from 'node:fs/promises';
import path from 'node:path';
import { inspectLoraFile, LoraFileError, type LoraFileReport } from '@easel/gpu-runtime/lora-file';
import { FAMILY_ARCHITECTURE, LoraSetting, MODEL_FAMILIES, type ModelFamily } from '@easel/schema';
import { ConflictError, InvalidInputError, isDuplicateKeyError, NotFoundError } from '../errors.js';
import { LoraModel, type LoraDocument, type LoraFields, type LoraFileHashes } from './lora-entry.js';

export interface CatalogLora extends LoraFields, LoraFileHashes {
  id: string;
  createdAt: Date;
  updatedAt: Date;
}

/** A LoRA file as a job names it: the GPU function checks the file against the hash. */
export interface LoraJobFile {
  name: string;
  file: string;
  sha256: string;
}

const toLora = ({ _id, __v, ...fields }: LoraDocument & { __v?: number }): CatalogLora => ({ ...fields, source: fields.source ?? null, id: _id.toHexString() });

// A plain file name: the GPU function joins it to its LORAS_DIR (same rule as the job contract).
const FILE_NAME = /^(?!\.+$)[A-Za-z0-9._ -]+$/;
// `<lora:name:…>` splits on colons and ends at `>`.
const LORA_NAME = /^[^:<>]+$/;

/** The LoRA catalog: which LoRAs people may use, for which families, and their files under LORAS_DIR. */
export class LoraCatalog {
  constructor(readonly lorasDir: string) {}

  /** LoRAs by name, only those for `family` when given. */
  async list(family?: ModelFamily): Promise<CatalogLora[]> {
    const docs = await LoraModel.find(family ? { families: family } : {}).lean<LoraDocument[]>();
    return docs.map(toLora).filter((lora) => !family || lora.families.includes(family)).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** By the name prompts write. */
  async find(name: string): Promise<CatalogLora | undefined> {
    const doc = await LoraModel.findOne({ name: name.trim() }).lean<LoraDocument>();
    return doc ? toLora(doc) : undefined;
  }

  /**
   * Adds a LoRA whose file is in LORAS_DIR, once the file reads as a LoRA (see inspectLoraFile);
   * its hashes go into the entry. With `replace`, an entry of that name takes the new fields and
   * file content (queued generations then run with the new content); without, the name must be new.
   */
  async add(fields: LoraFields, options: { replace?: boolean } = {}): Promise<CatalogLora> {
    const lora = { ...fields, name: fields.name.trim(), triggerWords: [...new Set(fields.triggerWords.map((w) => w.trim()).filter(Boolean))] };
    this.check(lora);
    if (!(await this.isInstalled(lora))) {
      throw new InvalidInputError(`LORAS_DIR has no file "${lora.file}"; put the .safetensors file there first.`, [{ field: 'file', message: 'not found in LORAS_DIR' }]);
    }
    const entry = { ...lora, ...(await this.hashes(lora.file, lora.families)) };
    if (options.replace) {
      const doc = await LoraModel.findOneAndUpdate({ name: entry.name }, { $set: entry }, { upsert: true, returnDocument: 'after' }).lean<LoraDocument>();
      return toLora(doc!);
    }
    try {
      return toLora((await LoraModel.create(entry)).toObject());
    } catch (error) {
      if (isDuplicateKeyError(error)) throw new ConflictError(`A LoRA named "${entry.name}" is already in the catalog (replace it to change it).`);
      throw error;
    }
  }

  /**
   * Takes a LoRA out of the catalog: new generations refuse its name, and queued ones fail when
   * dispatched (refunded; see filesFor). Its file stays in LORAS_DIR.
   */
  async remove(name: string): Promise<CatalogLora> {
    const doc = await LoraModel.findOne({ name: name.trim() }).lean<LoraDocument>();
    // Deleted by id: a second remover (or a replace in between) leaves this one nothing to delete.
    if (!doc || (await LoraModel.deleteOne({ _id: doc._id })).deletedCount === 0) throw new NotFoundError(`No LoRA "${name.trim()}" in the catalog.`);
    return toLora(doc);
  }

  /**
   * Adds the LoRAs the catalog lacks (demo LoRAs at start); existing names keep what an admin set,
   * and take the hashes of the files as they are now (the demo files are written at each start).
   */
  async seed(loras: LoraFields[]): Promise<void> {
    for (const lora of loras) {
      await LoraModel.updateOne({ name: lora.name }, { $setOnInsert: lora, $set: await this.hashes(lora.file, lora.families) }, { upsert: true });
    }
  }

  /**
   * The files of the named LoRAs for a job. `removed`: names no longer in the catalog;
   * `unreadable`: entries without a stored hash whose file cannot be read now, each with why.
   */
  async filesFor(names: readonly string[]): Promise<{ files: LoraJobFile[]; removed: string[]; unreadable: { name: string; reason: string }[] }> {
    const docs = names.length === 0 ? [] : await LoraModel.find({ name: { $in: [...names] } }).lean<LoraDocument[]>();
    const byName = new Map(docs.map((doc) => [doc.name, doc]));
    const files: LoraJobFile[] = [];
    const unreadable: { name: string; reason: string }[] = [];
    for (const name of names) {
      const doc = byName.get(name);
      if (!doc) continue;
      try {
        files.push({ name, file: doc.file, sha256: await this.sha256Of(doc) });
      } catch (error) {
        if (!(error instanceof InvalidInputError)) throw error;
        unreadable.push({ name, reason: error.invalidFields[0]?.message ?? error.message });
      }
    }
    return { files, removed: names.filter((name) => !byName.has(name)), unreadable };
  }

  /** The entry's sha256; an entry added before the catalog kept hashes gets them now, from its file. */
  private async sha256Of(doc: LoraDocument): Promise<string> {
    if (doc.sha256) return doc.sha256;
    const hashes = await this.hashes(doc.file);
    await LoraModel.updateOne({ _id: doc._id, sha256: { $exists: false } }, { $set: hashes });
    return hashes.sha256;
  }

  async isInstalled(lora: Pick<LoraFields, 'file'>): Promise<boolean> {
    return access(path.join(this.lorasDir, lora.file)).then(() => true, () => false);
  }

  /**
   * Reads the file as the GPU function will: a file it could not apply is refused here, and so is
   * one whose module names show it was trained for another architecture than `families` run on.
   */
  private async hashes(file: string, families?: readonly ModelFamily[]): Promise<LoraFileHashes> {
    let report: LoraFileReport;
    try {
      report = await inspectLoraFile(path.join(this.lorasDir, file));
    } catch (error) {
      if (!(error instanceof LoraFileError)) throw error;
      const reason = error.message.replace(`${path.join(this.lorasDir, file)}`, `"${file}"`);
      throw new InvalidInputError(`Not a LoRA Easel can use: ${reason}.`, [{ field: 'file', message: reason }]);
    }
    const { architecture, shortHash, sha256 } = report;
    const misfits = architecture ? (families ?? []).filter((family) => FAMILY_ARCHITECTURE[family] !== architecture) : [];
    if (misfits.length > 0) {
      const fits = MODEL_FAMILIES.filter((family) => FAMILY_ARCHITECTURE[family] === architecture).join(', ');
      const message = `"${file}" was trained for ${fits} models (its module names say so), not ${misfits.join(', ')}`;
      throw new InvalidInputError(`Invalid LoRA: ${message}.`, [{ field: 'families', message }]);
    }
    return { shortHash, sha256 };
  }

  private check(lora: LoraFields): void {
    const problems: { field: string; message: string }[] = [];
    if (!LORA_NAME.test(lora.name) || lora.name.length > 200) problems.push({ field: 'name', message: 'a name without ":", "<" or ">", at most 200 characters' });
    if (!FILE_NAME.test(lora.file)) problems.push({ field: 'file', message: 'a plain file name inside LORAS_DIR' });
    else if (!lora.file.toLowerCase().endsWith('.safetensors')) {
      problems.push({ field: 'file', message: 'only .safetensors files: pickled .ckpt/.pt files can run code when loaded' });
    }
    if (lora.families.length === 0 || lora.families.some((family) => !MODEL_FAMILIES.includes(family))) problems.push({ field: 'families', message: 'one or more model families' });
    else if (lora.families.some((family) => FAMILY_ARCHITECTURE[family] === 'flux')) {
      problems.push({ field: 'families', message: 'SD 1.5 or SDXL-based families: Easel does not apply LoRAs to Flux models yet' });
    }
    if (!LoraSetting.shape.weight.safeParse(lora.defaultWeight).success) problems.push({ field: 'defaultWeight', message: 'between -10 and 10' });
    if (problems.length > 0) throw new InvalidInputError(`Invalid LoRA: ${problems.map((p) => `${p.field}: ${p.message}`).join('; ')}.`, problems);
  }
}
