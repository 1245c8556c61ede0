/** What Easel's command-line tools (admin, models:fetch) use: accounts, tokens, the catalog and its database. */
export { Accounts, type User } from './accounts/accounts.js';
export { TokenService } from './accounts/token-service.js';
export { PLANS, ROLES } from './accounts/user.js';
export { Catalog } from './catalog/catalog.js';
export { LoraCatalog, type CatalogLora } from './catalog/lora-catalog.js';
export { SLUG_PATTERN, SLUG_RULE } from './catalog/catalog-rules.js';
export { registerModel, starterEntryForSource } from './catalog/installed-models.js';
export { ModelManifest, readModelManifest, writeModelManifest } from './catalog/model-manifest.js';
export { connectCliDatabase } from './db/cli-database.js';
export { startJongodb } from './db/jongodb.js';
export { ConflictError, InvalidInputError, NotFoundError } from './errors.js';
