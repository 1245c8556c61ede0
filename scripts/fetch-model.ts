/**
 * `npm run models:fetch -- <owner/name>[@revision] [--slug s] [--name n] [--family f] [--base owner/name[@revision]]`
 *
 * Downloads a model's ONNX export (Optimum's layout, or Black Forest Labs' FLUX.1-*-onnx with the
 * tokenizers from the base repository) from the Hugging Face Hub into MODELS_DIR
 * with a progress bar, resuming a broken download when run again, and registers it in the catalog
 * of the database Easel uses (MONGODB_URI, or the embedded one of an Easel running from this
 * folder). With no database reachable, Easel registers it at its next start.
 *
 * HF_ENDPOINT (default https://huggingface.co), HF_TOKEN (gated or private models) and the cache
 * (HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub) as in Hugging Face's own tools:
 * files another tool already downloaded there are not downloaded again.
 */
import { Command, InvalidArgumentError } from 'commander';
import cliProgress from 'cli-progress';
import { pino } from 'pino';
import { Catalog } from '@easel/api/admin';
import { SLUG_PATTERN, SLUG_RULE } from '@easel/api/admin';
import { registerModel, starterEntryForSource } from '@easel/api/admin';
import { ConfigError, loadConfig, type Config } from '@easel/api';
import { connectCliDatabase } from '@easel/api/admin';
import { ModelLoadError } from '@easel/gpu-runtime/models';
import { MODEL_FAMILIES, type ModelFamily } from '@easel/schema';
import { fetchOnnxModel, type FetchPlan } from './hub/fetch-onnx-model.js';
import { hubFromEnvironment, ModelFetchError, parseRepoSpec, slugFromRepo } from './hub/hub-api.js';

interface FetchOptions {
  slug?: string;
  name?: string;
  family?: ModelFamily;
  base?: string;
}

const family = (value: string): ModelFamily => {
  const upper = value.toUpperCase();
  if (!(MODEL_FAMILIES as readonly string[]).includes(upper)) throw new InvalidArgumentError(`must be one of ${MODEL_FAMILIES.join(', ')}.`);
  return upper as ModelFamily;
};

async function fetchModel(spec: string, options: FetchOptions, config: Config): Promise<void> {
  const { repo, revision } = parseRepoSpec(spec);
  const database = await openCatalog(config);
  try {
    // The catalog may already describe this repository (the starter catalog does, for well-known models).
    const known = (await database?.catalog.list())?.find((model) => model.source === repo) ?? starterEntryForSource(repo);
    const slug = options.slug ?? known?.slug ?? slugFromRepo(repo);
    if (!SLUG_PATTERN.test(slug)) throw new ModelFetchError(`cannot use "${slug}" as the model's slug: it ${SLUG_RULE}; choose one with --slug`);

    const progress = progressBar();
    const fetched = await fetchOnnxModel({
      repo,
      revision,
      slug,
      name: options.name ?? known?.name ?? repo.split('/')[1],
      family: options.family ?? known?.family,
      baseRepo: options.base,
      modelsDir: config.modelsDir,
      hub: hubFromEnvironment(),
      onPlan: progress.start,
      onBytes: progress.advance,
    }).finally(progress.stop);
    console.log(`Installed ${repo}@${revision} (${fetched.manifest.family}) in ${fetched.dir}`);

    if (!database) {
      console.log('No Easel database was reachable: the model is registered in the catalog when Easel next starts.');
      return;
    }
    const { model, created } = await registerModel(database.catalog, fetched.manifest);
    console.log(`${created ? 'Added' : 'Updated'} the catalog entry "${model.slug}" (${model.name}).`);
  } finally {
    await database?.close();
  }
}

/** The catalog of the database Easel uses (see connectCliDatabase), when there is one to reach. */
async function openCatalog(config: Config): Promise<{ catalog: Catalog; close(): Promise<void> } | undefined> {
  try {
    const database = await connectCliDatabase(config, pino({ level: 'silent' }));
    return database && { catalog: new Catalog(config.modelsDir), close: () => database.stop() };
  } catch (error) {
    // A stopped server's stale address, a database that is down: the download is still worth doing.
    console.warn(`Cannot reach Easel's database (${(error as Error).message}); continuing without it.`);
    return undefined;
  }
}

/** A byte counter over every file of the model; on a terminal only, like Hugging Face's own CLI. */
function progressBar() {
  const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
  const bar = new cliProgress.SingleBar(
    {
      format: ' {bar} {percentage}% | {done} / {size} MB | {speed} MB/s | {file}',
      hideCursor: true,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  let bytes = 0;
  const startedAt = Date.now();
  const payload = (file: string) => ({ file, done: mb(bytes), speed: mb((bytes / Math.max(1, Date.now() - startedAt)) * 1000) });
  return {
    start(plan: FetchPlan) {
      console.log(`Fetching ${plan.files.length} files of commit ${plan.commit.slice(0, 12)}, ${mb(plan.totalBytes)} MB, through the Hugging Face cache ${plan.cacheDir}`);
      if (plan.cachedBytes > 0) console.log(`${mb(plan.cachedBytes)} MB of it are in the cache already.`);
      bar.start(plan.totalBytes, 0, { ...payload(''), size: mb(plan.totalBytes) });
    },
    advance(file: string, delta: number) {
      bytes += delta;
      bar.update(bytes, payload(file));
    },
    stop: () => bar.stop(),
  };
}

const program = new Command('npm run models:fetch --')
  .description("Downloads a model's ONNX export from the Hugging Face Hub into MODELS_DIR and registers it in the catalog.")
  .argument('<repo>', 'Hugging Face repository, owner/name[@revision] (revision: a branch, tag or commit; default main)')
  .option('--slug <slug>', 'catalog slug and folder name (default: from the catalog entry for this repository, else its name)')
  .option('--name <name>', 'display name for a new catalog entry')
  .option('--family <family>', `${MODEL_FAMILIES.join(', ')} (default: SD15 or SDXL, from model_index.json)`, family)
  .option('--base <repo>', "BFL's FLUX.1-*-onnx exports: the repository with the tokenizers, owner/name[@revision] (default: the name without -onnx)")
  .showHelpAfterError()
  .action(async (spec: string, options: FetchOptions) => {
    try {
      await fetchModel(spec, options, loadConfig());
    } catch (error) {
      if (!(error instanceof ConfigError || error instanceof ModelFetchError || error instanceof ModelLoadError)) throw error;
      console.error(error instanceof ConfigError ? error.message : `\nCould not fetch ${spec}: ${error.message}`);
      process.exitCode = 1;
    }
  });

await program.parseAsync();
