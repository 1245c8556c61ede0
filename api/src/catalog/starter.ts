import starter from './starter-catalog.json' with { type: 'json' };
import type { StarterCatalog } from './catalog.js';

/**
 * What a fresh database starts with: the family prompt presets and well-known public models of
 * every family, plus the tiny demo models. Checked by the catalog's rules when seeded.
 */
export const STARTER_CATALOG = starter as StarterCatalog;
