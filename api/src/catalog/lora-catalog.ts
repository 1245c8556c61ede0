import { access } from 'node:fs/promises';
import path from 'node:path';
import { LoraSetting, MODEL_FAMILIES, type ModelFamily } from '@easel/schema';
import { ConflictError, InvalidInputError, isDuplicateKeyError } from '../errors.js';
import { LoraModel, type LoraDocument, type LoraFields } from './lora-entry.js';

export interface CatalogLora extends LoraFields {
  id: string;
  createdAt: Date;
  updatedAt: Date;
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

  async add(fields: LoraFields): Promise<CatalogLora> {
    const lora = { ...fields, name: fields.name.trim(), triggerWords: [...new Set(fields.triggerWords.map((w) => w.trim()).filter(Boolean))] };
    this.check(lora);
    if (!(await this.isInstalled(lora))) {
      throw new InvalidInputError(`LORAS_DIR has no file "${lora.file}"; put the .safetensors file there first.`, [{ field: 'file', message: 'not found in LORAS_DIR' }]);
    }
    try {
      return toLora((await LoraModel.create(lora)).toObject());
    } catch (error) {
      if (isDuplicateKeyError(error)) throw new ConflictError(`A LoRA named "${lora.name}" is already in the catalog.`);
      throw error;
    }
  }

  /** Adds the LoRAs the catalog lacks (demo LoRAs at start); existing names are left as they are. */
  async seed(loras: LoraFields[]): Promise<void> {
    for (const lora of loras) {
      await LoraModel.updateOne({ name: lora.name }, { $setOnInsert: lora }, { upsert: true });
    }
  }

  async isInstalled(lora: Pick<LoraFields, 'file'>): Promise<boolean> {
    return access(path.join(this.lorasDir, lora.file)).then(() => true, () => false);
  }

  private check(lora: LoraFields): void {
    const problems: { field: string; message: string }[] = [];
    if (!LORA_NAME.test(lora.name) || lora.name.length > 200) problems.push({ field: 'name', message: 'a name without ":", "<" or ">", at most 200 characters' });
    if (!FILE_NAME.test(lora.file)) problems.push({ field: 'file', message: 'a plain file name inside LORAS_DIR' });
    else if (!lora.file.toLowerCase().endsWith('.safetensors')) {
      problems.push({ field: 'file', message: 'only .safetensors files: pickled .ckpt/.pt files can run code when loaded' });
    }
    if (lora.families.length === 0 || lora.families.some((family) => !MODEL_FAMILIES.includes(family))) problems.push({ field: 'families', message: 'one or more model families' });
    if (!LoraSetting.shape.weight.safeParse(lora.defaultWeight).success) problems.push({ field: 'defaultWeight', message: 'between -10 and 10' });
    if (problems.length > 0) throw new InvalidInputError(`Invalid LoRA: ${problems.map((p) => `${p.field}: ${p.message}`).join('; ')}.`, problems);
  }
}
