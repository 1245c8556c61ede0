import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { isValidObjectId, Types } from 'mongoose';
import { MODEL_FAMILIES, type ModelFamily } from '@easel/schema';
import { ConflictError, InvalidInputError, isDuplicateKeyError, NotFoundError } from '../errors.js';
import {
  CatalogEntryModel,
  PROMPT_STYLES,
  type CatalogEntryDocument,
  type CatalogEntryFields,
  type ModelDefaults,
  type ModelTier,
  type PromptStyle,
} from './catalog-entry.js';
import { checkCatalogEntry, checkPresetTags } from './catalog-rules.js';
import { FamilyPresetModel, type FamilyPreset } from './family-preset.js';

export interface CatalogModel extends CatalogEntryFields {
  id: string;
  retired: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export type CatalogModelChanges = Partial<Omit<CatalogEntryFields, 'defaults'>> & {
  defaults?: Partial<ModelDefaults>;
  retired?: boolean;
};

export interface StarterCatalog {
  presets: FamilyPreset[];
  models: CatalogEntryFields[];
}

const toModel = ({ _id, __v, ...fields }: CatalogEntryDocument & { __v?: number }): CatalogModel => ({
  ...fields,
  source: fields.source ?? null,
  id: _id.toHexString(),
});

const toPreset = ({ family, promptStyle, qualityTags, negativeTags }: FamilyPreset): FamilyPreset => ({
  family,
  promptStyle,
  qualityTags,
  negativeTags,
});

const familyOrder = (family: ModelFamily) => MODEL_FAMILIES.indexOf(family);

/** Trims, drops empties and repeats; keeps the order people wrote. */
const cleanTags = (tags: string[]) => [...new Set(tags.map((tag) => tag.trim()).filter(Boolean))];

/** The model catalog: which models exist, how to prompt them, and whether their files are here. */
export class Catalog {
  constructor(private readonly modelsDir: string) {}

  /** Models people can pick: not retired, grouped by family, then by name. */
  async list(filter: { tier?: ModelTier; family?: ModelFamily } = {}): Promise<CatalogModel[]> {
    const query: Record<string, unknown> = { retired: false };
    if (filter.tier) query.tier = filter.tier;
    if (filter.family) query.family = filter.family;
    const docs = await CatalogEntryModel.find(query).lean<CatalogEntryDocument[]>();
    return docs
      .map(toModel)
      .sort((a, b) => familyOrder(a.family) - familyOrder(b.family) || a.name.localeCompare(b.name));
  }

  /** A model by id or slug, retired ones included (old generations still name them). */
  async find(ref: string): Promise<CatalogModel | undefined> {
    const filter = isValidObjectId(ref) ? { _id: new Types.ObjectId(ref) } : { slug: ref };
    const doc = await CatalogEntryModel.findOne(filter).lean<CatalogEntryDocument>();
    return doc ? toModel(doc) : undefined;
  }

  async get(ref: string): Promise<CatalogModel> {
    const model = await this.find(ref);
    if (!model) throw new NotFoundError(`No model "${ref}" in the catalog.`);
    return model;
  }

  async add(fields: CatalogEntryFields): Promise<CatalogModel> {
    checkCatalogEntry(fields);
    try {
      const doc = await CatalogEntryModel.create(fields);
      return toModel(doc.toObject());
    } catch (error) {
      throw this.explainDuplicate(error, fields.slug);
    }
  }

  async update(ref: string, changes: CatalogModelChanges): Promise<CatalogModel> {
    const current = await this.get(ref);
    const { id, createdAt, updatedAt, ...fields } = current;
    const next: CatalogEntryFields & { retired: boolean } = {
      ...fields,
      ...withoutUndefined(changes),
      defaults: { ...current.defaults, ...withoutUndefined(changes.defaults ?? {}) },
    };
    checkCatalogEntry(next);
    try {
      const doc = await CatalogEntryModel.findOneAndUpdate(
        { _id: new Types.ObjectId(id) },
        { $set: next },
        { returnDocument: 'after' },
      ).lean<CatalogEntryDocument>();
      if (!doc) throw new NotFoundError(`No model "${ref}" in the catalog.`);
      return toModel(doc);
    } catch (error) {
      throw this.explainDuplicate(error, next.slug);
    }
  }

  /** Hides a model from `list`; it stays resolvable by id for the generations that used it. */
  async retire(ref: string): Promise<CatalogModel> {
    return this.update(ref, { retired: true });
  }

  /** True once the model's files are in MODELS_DIR, so the GPU function can load them. */
  async isInstalled(model: Pick<CatalogEntryFields, 'path'>): Promise<boolean> {
    try {
      await access(join(this.modelsDir, model.path, 'model_index.json'));
      return true;
    } catch {
      return false;
    }
  }

  async presets(): Promise<FamilyPreset[]> {
    const docs = await FamilyPresetModel.find().lean<FamilyPreset[]>();
    return docs.map(toPreset).sort((a, b) => familyOrder(a.family) - familyOrder(b.family));
  }

  async preset(family: ModelFamily): Promise<FamilyPreset | undefined> {
    const doc = await FamilyPresetModel.findOne({ family }).lean<FamilyPreset>();
    return doc ? toPreset(doc) : undefined;
  }

  async updatePreset(
    family: ModelFamily,
    changes: Partial<Pick<FamilyPreset, 'promptStyle' | 'qualityTags' | 'negativeTags'>>,
  ): Promise<FamilyPreset> {
    if (!MODEL_FAMILIES.includes(family)) {
      throw new InvalidInputError(`Unknown family "${family}"; choose one of ${MODEL_FAMILIES.join(', ')}.`);
    }
    if (changes.promptStyle && !PROMPT_STYLES.includes(changes.promptStyle as PromptStyle)) {
      throw new InvalidInputError(`Unknown prompt style "${changes.promptStyle}"; choose TAGS or NATURAL.`);
    }
    checkPresetTags({ family, ...changes });
    const current = (await this.preset(family)) ?? { family, promptStyle: 'TAGS', qualityTags: [], negativeTags: [] };
    const next: FamilyPreset = {
      family,
      promptStyle: changes.promptStyle ?? current.promptStyle,
      qualityTags: cleanTags(changes.qualityTags ?? current.qualityTags),
      negativeTags: cleanTags(changes.negativeTags ?? current.negativeTags),
    };
    const doc = await FamilyPresetModel.findOneAndUpdate({ family }, { $set: next }, { returnDocument: 'after', upsert: true }).lean<FamilyPreset>();
    return toPreset(doc ?? next);
  }

  /**
   * Adds the starter entries a database lacks, matched by slug (models) and family (presets).
   * Existing entries are left alone, so admin edits and retirements survive every restart.
   * Returns how many entries were added.
   */
  async seed(starter: StarterCatalog): Promise<{ models: number; presets: number }> {
    starter.models.forEach(checkCatalogEntry);
    starter.presets.forEach(checkPresetTags);
    let models = 0;
    let presets = 0;
    for (const entry of starter.models) {
      if (await this.insertIfMissing(() => CatalogEntryModel.updateOne({ slug: entry.slug }, { $setOnInsert: entry }, { upsert: true }))) models++;
    }
    for (const preset of starter.presets) {
      const fields = { ...preset, qualityTags: cleanTags(preset.qualityTags), negativeTags: cleanTags(preset.negativeTags) };
      if (await this.insertIfMissing(() => FamilyPresetModel.updateOne({ family: preset.family }, { $setOnInsert: fields }, { upsert: true }))) presets++;
    }
    return { models, presets };
  }

  private async insertIfMissing(upsert: () => Promise<{ upsertedCount: number }>): Promise<boolean> {
    try {
      return (await upsert()).upsertedCount > 0;
    } catch (error) {
      // Another instance seeding at the same moment won the race; its entry is as good as ours.
      if (isDuplicateKeyError(error)) return false;
      throw error;
    }
  }

  private explainDuplicate(error: unknown, slug: string | undefined): unknown {
    return isDuplicateKeyError(error) ? new ConflictError(`A model with slug "${slug}" already exists.`) : error;
  }
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
