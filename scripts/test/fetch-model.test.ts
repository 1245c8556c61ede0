import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { pino } from 'pino';
import { readModelManifest } from '@easel/api/admin';
import { startJongodb } from '@easel/api/admin';
import { loadFluxModel, loadModel, ModelLoadError, unloadFluxModel, unloadModel } from '@easel/gpu-runtime/models';
import { DOWNLOADS_DIR, fetchOnnxModel, type FetchModelOptions } from '../hub/fetch-onnx-model.js';
import { ModelFetchError, parseRepoSpec, slugFromRepo } from '../hub/hub-api.js';
import { makeTinyModels } from '@easel/gpu-runtime/tiny-models';
import { gitBlobHash, readRepoFolder, startHubServer, type FakeRepo, type HubServer } from './support/hub-server.js';

const commit = (n: number) => String(n).repeat(40).slice(0, 40);
let root: string;
let sources: Record<'tiny-sd15' | 'tiny-sdxl' | 'tiny-flux', string>;
let hub: HubServer;
let modelsDir: string;
/** The Hugging Face cache of one test (HF_HUB_CACHE). */
let hfCache: string;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'easel-fetch-'));
  sources = await makeTinyModels(path.join(root, 'sources'));
  hub = await startHubServer();

  const sd15 = await readRepoFolder(sources['tiny-sd15'], commit(1));
  // What real repositories carry beside the export: PyTorch weights, a model card.
  sd15.files.set('unet/diffusion_pytorch_model.safetensors', randomBytes(4096));
  sd15.files.set('vae/diffusion_pytorch_model.safetensors', randomBytes(2048));
  sd15.files.set('README.md', Buffer.from('# a model card\n'));
  hub.repos.set('easel/tiny-sd15-onnx', sd15);
  hub.repos.set('easel/tiny-sdxl-onnx', await readRepoFolder(sources['tiny-sdxl'], commit(2)));
  hub.repos.set('easel/gated-sd15', { ...(await readRepoFolder(sources['tiny-sd15'], commit(3))), token: 'hf_secret_token' });

  const pytorchOnly = await readRepoFolder(sources['tiny-sd15'], commit(4));
  for (const file of [...pytorchOnly.files.keys()]) if (file.endsWith('.onnx')) pytorchOnly.files.delete(file);
  pytorchOnly.files.set('unet/diffusion_pytorch_model.safetensors', randomBytes(4096));
  hub.repos.set('easel/pytorch-only', pytorchOnly);
  hub.repos.set('easel/sd3', { commit: commit(5), files: new Map([['model_index.json', Buffer.from('{"_class_name":"StableDiffusion3Pipeline"}')]]) });
  hub.repos.set('easel/flux-index-only', { commit: commit(7), files: new Map([['model_index.json', Buffer.from('{"_class_name":"FluxPipeline"}')]]) });
  const flux = await readRepoFolder(sources['tiny-flux'], commit(8));
  flux.files.set('transformer/diffusion_pytorch_model.safetensors', randomBytes(4096));
  hub.repos.set('easel/tiny-flux-onnx', flux);
  hub.repos.set('easel/no-index', { commit: commit(6), files: new Map([['README.md', Buffer.from('hello')]]) });

  // A repository pair laid out as black-forest-labs/FLUX.1-schnell-onnx and its base repository,
  // from the tiny Flux model's files: graphs in *.opt folders (the transformer in three precisions,
  // external data beside it), tokenizers and configs only in the base, beside its PyTorch weights.
  const tinyFlux = (file: string) => flux.files.get(file)!;
  hub.repos.set(
    'easel-bfl/FLUX.1-tiny-onnx',
    {
      commit: commit(9),
      files: new Map([
        ['clip.opt/model.onnx', tinyFlux('text_encoder/model.onnx')],
        ['t5.opt/model.onnx', tinyFlux('text_encoder_2/model.onnx')],
        ['vae.opt/model.onnx', tinyFlux('vae_decoder/model.onnx')],
        ['transformer.opt/bf16/model.onnx', tinyFlux('transformer/model.onnx')],
        ['transformer.opt/bf16/backbone.onnx.data', randomBytes(512)],
        ['transformer.opt/fp8/model.onnx', randomBytes(4096)],
        ['transformer.opt/fp4/model.onnx', randomBytes(4096)],
        ['README.md', Buffer.from('# BFL ONNX export\n')],
      ]),
    },
  );
  const base = new Map([...flux.files].filter(([file]) => /^(tokenizer|tokenizer_2|scheduler)\//.test(file)));
  base.set('vae/config.json', tinyFlux('vae_decoder/config.json'));
  base.set('model_index.json', tinyFlux('model_index.json'));
  base.set('flux1-tiny.safetensors', randomBytes(4096));
  base.set('transformer/diffusion_pytorch_model.safetensors', randomBytes(4096));
  hub.repos.set('easel-bfl/FLUX.1-tiny', { commit: commit(10), files: base });
  hub.repos.set('easel-bfl/tokenizers-elsewhere', { commit: commit(11), files: new Map(base) });
  hub.repos.set('easel-bfl/FLUX.1-quantised-onnx', {
    commit: commit(12),
    files: new Map([...hub.repos.get('easel-bfl/FLUX.1-tiny-onnx')!.files].filter(([file]) => !file.startsWith('transformer.opt/bf16/'))),
  });
  hub.repos.set('easel-bfl/renamed', { commit: commit(13), files: hub.repos.get('easel-bfl/FLUX.1-tiny-onnx')!.files });
});
afterAll(async () => {
  await hub.close();
  await rm(root, { recursive: true, force: true });
});
beforeEach(async () => {
  modelsDir = await mkdtemp(path.join(root, 'models-'));
  hfCache = await mkdtemp(path.join(root, 'hf-cache-'));
  hub.requests.length = 0;
  hub.cuts.clear();
  hub.corrupt.clear();
});

function options(repo: string, overrides: Partial<FetchModelOptions> = {}): FetchModelOptions {
  return {
    repo,
    revision: 'main',
    modelsDir,
    hub: { endpoint: hub.url },
    cacheDir: hfCache,
    slug: slugFromRepo(repo),
    name: repo,
    retries: 3,
    minRetryDelayMs: 5,
    ...overrides,
  };
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const resolvesOf = (file: string) => hub.requests.filter((request) => request.path.includes('/resolve/') && request.path.endsWith(`/${file}`));

async function expectSameFiles(installed: string, source: string) {
  for (const file of ['model_index.json', 'unet/model.onnx', 'text_encoder/model.onnx', 'tokenizer/vocab.json', 'scheduler/scheduler_config.json']) {
    expect(await readFile(path.join(installed, file)), file).toEqual(await readFile(path.join(source, file)));
  }
}

describe('fetching an ONNX export', () => {
  test('installs the export (and nothing else), resuming a transfer cut mid-file, and the folder loads', async () => {
    hub.cuts.set('unet/model.onnx', 1);
    let planned = 0;
    let received = 0;
    const fetched = await fetchOnnxModel(
      options('easel/tiny-sd15-onnx', { onPlan: (plan) => (planned = plan.totalBytes!), onBytes: (_file, delta) => (received += delta) }),
    );

    expect(fetched.dir).toBe(path.join(modelsDir, 'tiny-sd15-onnx'));
    await expectSameFiles(fetched.dir, sources['tiny-sd15']);
    expect(received).toBe(planned);
    const unet = resolvesOf('unet/model.onnx');
    expect(unet).toHaveLength(2);
    expect(unet[1].range).toMatch(/^bytes=[1-9]\d*-\d+$/);
    expect(hub.requests.some((request) => /safetensors|README/.test(request.path))).toBe(false);
    await expect(stat(path.join(fetched.dir, 'vae/diffusion_pytorch_model.safetensors'))).rejects.toThrow();
    expect(await readdir(path.join(modelsDir, DOWNLOADS_DIR))).toEqual([]);

    expect(await readModelManifest(fetched.dir)).toEqual({
      slug: 'tiny-sd15-onnx',
      name: 'easel/tiny-sd15-onnx',
      family: 'SD15',
      source: 'easel/tiny-sd15-onnx',
      revision: 'main',
      commit: commit(1),
    });
    const model = await loadModel(fetched.dir);
    expect(model.architecture).toBe('sd1');
    await unloadModel(fetched.dir);
  });

  test('a run that broke off is resumed by the next run from its part file', async () => {
    hub.cuts.set('unet/model.onnx', 100);
    await expect(fetchOnnxModel(options('easel/tiny-sd15-onnx', { retries: 0 }))).rejects.toThrow(/unet\/model.onnx: the transfer stopped at \d+ of \d+ bytes/);
    // The part waits in the Hugging Face cache, where huggingface_hub keeps its own.
    const unetBytes = await readFile(path.join(sources['tiny-sd15'], 'unet/model.onnx'));
    const part = path.join(hfCache, 'models--easel--tiny-sd15-onnx', 'blobs', `${sha256(unetBytes)}.incomplete`);
    const partSize = (await stat(part)).size;
    expect(partSize).toBeGreaterThan(0);
    await expect(stat(path.join(modelsDir, 'tiny-sd15-onnx'))).rejects.toThrow();

    hub.cuts.clear();
    hub.requests.length = 0;
    const fetched = await fetchOnnxModel(options('easel/tiny-sd15-onnx'));
    expect(resolvesOf('unet/model.onnx').map((request) => request.range)).toEqual([`bytes=${partSize}-${unetBytes.length - 1}`]);
    // Files finished in the first run are not fetched again.
    expect(resolvesOf('model_index.json')).toEqual([]);
    await expectSameFiles(fetched.dir, sources['tiny-sd15']);
  });

  test('bytes that do not match the listed SHA-256 are refused', async () => {
    hub.corrupt.add('vae_decoder/model.onnx');
    await expect(fetchOnnxModel(options('easel/tiny-sd15-onnx', { retries: 1 }))).rejects.toThrow(/does not match the SHA-256/);
    await expect(stat(path.join(modelsDir, 'tiny-sd15-onnx'))).rejects.toThrow();
  });

  test('a second fetch of the same slug replaces the first install', async () => {
    await fetchOnnxModel(options('easel/tiny-sd15-onnx'));
    const again = await fetchOnnxModel(options('easel/tiny-sdxl-onnx', { slug: 'tiny-sd15-onnx' }));
    expect((await readModelManifest(again.dir))?.family).toBe('SDXL');
    await expectSameFiles(again.dir, sources['tiny-sdxl']);
    expect(await readdir(modelsDir)).toEqual([DOWNLOADS_DIR, 'tiny-sd15-onnx']);
  });
});

/**
 * What huggingface_hub (huggingface-cli, diffusers) leaves in its cache after downloading every
 * file of a repository: each file's ETag from a HEAD on `resolve` (X-Linked-Etag for LFS files)
 * names its blob, the snapshot links to it relatively, refs/main names the commit.
 */
async function downloadLikeHuggingfaceHub(cacheDir: string, repoId: string, repo: FakeRepo): Promise<void> {
  const folder = path.join(cacheDir, `models--${repoId.replace('/', '--')}`);
  for (const [file, bytes] of repo.files) {
    const head = await fetch(`${hub.url}/${repoId}/resolve/main/${file}`, { method: 'HEAD' });
    const etag = (head.headers.get('x-linked-etag') ?? head.headers.get('etag'))!.replace(/"/g, '');
    const commit = head.headers.get('x-repo-commit')!;
    const blob = path.join(folder, 'blobs', etag);
    const pointer = path.join(folder, 'snapshots', commit, file);
    await mkdir(path.dirname(blob), { recursive: true });
    await mkdir(path.dirname(pointer), { recursive: true });
    await writeFile(blob, bytes);
    await symlink(path.relative(path.dirname(pointer), blob), pointer);
    await mkdir(path.join(folder, 'refs'), { recursive: true });
    await writeFile(path.join(folder, 'refs', 'main'), commit);
  }
}

describe('the Hugging Face cache', () => {
  test('a model another tool already downloaded is taken from the cache, not downloaded again', async () => {
    const repo = hub.repos.get('easel/tiny-sd15-onnx')!;
    await downloadLikeHuggingfaceHub(hfCache, 'easel/tiny-sd15-onnx', repo);
    hub.requests.length = 0;

    let planned = { total: 0, cached: 0 };
    const fetched = await fetchOnnxModel(options('easel/tiny-sd15-onnx', { onPlan: (plan) => (planned = { total: plan.totalBytes, cached: plan.cachedBytes }) }));

    expect(hub.requests.filter((request) => request.path.includes('/resolve/'))).toEqual([]);
    expect(planned.cached).toBe(planned.total);
    await expectSameFiles(fetched.dir, sources['tiny-sd15']);
    // The installed file is the cache's blob, hard-linked: no second copy on disk.
    const blob = path.join(hfCache, 'models--easel--tiny-sd15-onnx', 'blobs', sha256(repo.files.get('unet/model.onnx')!));
    expect((await stat(path.join(fetched.dir, 'unet/model.onnx'))).ino).toBe((await stat(blob)).ino);
    const model = await loadModel(fetched.dir);
    expect(model.architecture).toBe('sd1');
    await unloadModel(fetched.dir);
  });

  test("what Easel downloads lands in the cache in huggingface_hub's layout, and serves the next install", async () => {
    const repo = hub.repos.get('easel/tiny-sdxl-onnx')!;
    await fetchOnnxModel(options('easel/tiny-sdxl-onnx'));

    const folder = path.join(hfCache, 'models--easel--tiny-sdxl-onnx');
    expect(await readFile(path.join(folder, 'refs', 'main'), 'utf8')).toBe(commit(2));
    const snapshot = path.join(folder, 'snapshots', commit(2));
    const unet = repo.files.get('unet/model.onnx')!;
    expect(await readlink(path.join(snapshot, 'unet/model.onnx'))).toBe(`../../../blobs/${sha256(unet)}`);
    const index = repo.files.get('model_index.json')!;
    expect(await readlink(path.join(snapshot, 'model_index.json'))).toBe(`../../blobs/${gitBlobHash(index)}`);
    expect(await readFile(path.join(snapshot, 'unet/model.onnx'))).toEqual(unet);
    expect((await readdir(path.join(folder, 'blobs'))).filter((name) => name.endsWith('.incomplete'))).toEqual([]);

    hub.requests.length = 0;
    const again = await fetchOnnxModel(options('easel/tiny-sdxl-onnx', { slug: 'another-xl' }));
    expect(hub.requests.filter((request) => request.path.includes('/resolve/'))).toEqual([]);
    await expectSameFiles(again.dir, sources['tiny-sdxl']);
  });
});

describe('the family', () => {
  test('comes from model_index.json: SDXL', async () => {
    const fetched = await fetchOnnxModel(options('easel/tiny-sdxl-onnx'));
    expect(fetched.manifest.family).toBe('SDXL');
    await stat(path.join(fetched.dir, 'text_encoder_2/model.onnx'));
  });

  test('may be an SDXL descendant when asked', async () => {
    expect((await fetchOnnxModel(options('easel/tiny-sdxl-onnx', { family: 'PONY' }))).manifest.family).toBe('PONY');
  });

  test('must fit the architecture', async () => {
    await expect(fetchOnnxModel(options('easel/tiny-sdxl-onnx', { family: 'SD15' }))).rejects.toThrow(/SD15 runs on sd1 pipelines.*StableDiffusionXLPipeline/);
    expect(resolvesOf('unet/model.onnx')).toEqual([]);
  });
});

describe('repositories that cannot be installed say why', () => {
  test('PyTorch weights only: the missing ONNX files are named, and nothing large is downloaded', async () => {
    const error = await fetchOnnxModel(options('easel/pytorch-only')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelFetchError);
    expect((error as Error).message).toMatch(/without a complete ONNX export \(missing .*unet\/model\.onnx/);
    expect(hub.requests.some((request) => request.path.includes('safetensors'))).toBe(false);
  });

  test('a pipeline Easel cannot run', async () => {
    const error = await fetchOnnxModel(options('easel/sd3')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelLoadError);
    expect(error).toMatchObject({ code: 'MODEL_UNKNOWN_KIND', message: expect.stringContaining('StableDiffusion3Pipeline') });
  });

  test('a Flux export in the diffusers layout: installed as FLUX, its layout checked, and it loads', async () => {
    const { dir, manifest } = await fetchOnnxModel(options('easel/tiny-flux-onnx'));
    expect(manifest).toMatchObject({ family: 'FLUX', source: 'easel/tiny-flux-onnx' });
    expect(await readdir(path.join(dir, 'transformer'))).toEqual(['model.onnx']); // not the PyTorch weights beside it
    expect(await readFile(path.join(dir, 'transformer/model.onnx'))).toEqual(await readFile(path.join(sources['tiny-flux'], 'transformer/model.onnx')));
    const model = await loadFluxModel(dir);
    expect(model.variant).toBe('dev');
    await unloadFluxModel(dir);

    const incomplete = await fetchOnnxModel(options('easel/flux-index-only')).catch((e: unknown) => e);
    expect(incomplete).toBeInstanceOf(ModelFetchError);
    expect((incomplete as Error).message).toMatch(/FluxPipeline without a complete ONNX export \(missing text_encoder\/model.onnx, text_encoder_2\/model.onnx, transformer\/model.onnx/);
  });

  test("BFL's ONNX export: the runnable transformer only, the tokenizers and configs from the base repository, and it loads", async () => {
    const { dir, manifest } = await fetchOnnxModel(options('easel-bfl/FLUX.1-tiny-onnx'));
    expect(manifest).toMatchObject({ family: 'FLUX', source: 'easel-bfl/FLUX.1-tiny-onnx', commit: commit(9) });
    expect(await readdir(path.join(dir, 'transformer.opt'))).toEqual(['bf16']);
    expect((await readdir(path.join(dir, 'transformer.opt/bf16'))).sort()).toEqual(['backbone.onnx.data', 'model.onnx']);
    expect(await readFile(path.join(dir, 'tokenizer_2/tokenizer.json'))).toEqual(await readFile(path.join(sources['tiny-flux'], 'tokenizer_2/tokenizer.json')));
    expect(await readFile(path.join(dir, 'vae/config.json'))).toEqual(await readFile(path.join(sources['tiny-flux'], 'vae_decoder/config.json')));
    // Neither the other precisions nor the base repository's weights, model card or model_index.json.
    expect(hub.requests.filter((request) => /fp8|fp4|safetensors|README|model_index/.test(request.path) && request.path.includes('/resolve/'))).toEqual([]);
    await expect(stat(path.join(dir, 'model_index.json'))).rejects.toThrow();
    // The base repository's files went through its own part of the Hugging Face cache.
    expect(await readdir(path.join(hfCache, 'models--easel-bfl--FLUX.1-tiny/snapshots'))).toEqual([commit(10)]);

    const model = await loadFluxModel(dir);
    expect(model.layout).toMatchObject({ kind: 'bfl', transformer: path.join(dir, 'transformer.opt/bf16/model.onnx') });
    expect(model.variant).toBe('dev');
    await unloadFluxModel(dir);
  });

  test('BFL: another base repository by name; a name without -onnx needs one; fp8/fp4 only is refused before any download', async () => {
    const renamed = await fetchOnnxModel(options('easel-bfl/renamed', { baseRepo: 'easel-bfl/tokenizers-elsewhere@main' }));
    expect(await readdir(path.join(hfCache, 'models--easel-bfl--tokenizers-elsewhere/snapshots'))).toEqual([commit(11)]);
    await expect(stat(path.join(renamed.dir, 'tokenizer/vocab.json'))).resolves.toBeDefined();

    await expect(fetchOnnxModel(options('easel-bfl/renamed', { slug: 'renamed-2' }))).rejects.toThrow(/does not end in -onnx: say which repository holds them with --base/);
    await expect(fetchOnnxModel(options('easel-bfl/FLUX.1-tiny-onnx', { slug: 'no-tokenizers', baseRepo: 'easel/tiny-sd15-onnx' }))).rejects.toThrow(
      /easel\/tiny-sd15-onnx, where the BFL export's tokenizers should come from, has no tokenizer_2\/tokenizer.json/,
    );

    hub.requests.length = 0;
    const quantised = await fetchOnnxModel(options('easel-bfl/FLUX.1-quantised-onnx')).catch((e: unknown) => e);
    expect(quantised).toBeInstanceOf(ModelFetchError);
    expect((quantised as Error).message).toMatch(/fp8 and fp4, quantised for TensorRT, which onnxruntime cannot run.*bf16/);
    expect(hub.requests.filter((request) => request.path.includes('/resolve/'))).toEqual([]);
  });

  test('no model_index.json', async () => {
    await expect(fetchOnnxModel(options('easel/no-index'))).rejects.toThrow(/has no model_index.json/);
  });

  test('an unknown repository or revision', async () => {
    await expect(fetchOnnxModel(options('easel/nothing-here'))).rejects.toThrow(/no repository easel\/nothing-here with a revision "main"/);
    await expect(fetchOnnxModel(options('easel/tiny-sd15-onnx', { revision: 'v9' }))).rejects.toThrow(/revision "v9"/);
  });

  test('a gated repository needs HF_TOKEN, which is sent as a Bearer token', async () => {
    await expect(fetchOnnxModel(options('easel/gated-sd15'))).rejects.toThrow(/set HF_TOKEN/);
    const fetched = await fetchOnnxModel(options('easel/gated-sd15', { hub: { endpoint: hub.url, token: 'hf_secret_token' } }));
    expect(fetched.manifest.commit).toBe(commit(3));
    expect(hub.requests.filter((request) => request.path.includes('/resolve/')).every((request) => request.authorization === 'Bearer hf_secret_token')).toBe(true);
  });
});

test('repository specs and slugs', () => {
  expect(parseRepoSpec('stabilityai/stable-diffusion-xl-base-1.0')).toEqual({ repo: 'stabilityai/stable-diffusion-xl-base-1.0', revision: 'main' });
  expect(parseRepoSpec('runwayml/stable-diffusion-v1-5@onnx')).toEqual({ repo: 'runwayml/stable-diffusion-v1-5', revision: 'onnx' });
  expect(() => parseRepoSpec('just-a-name')).toThrow(/owner\/name/);
  expect(slugFromRepo('stabilityai/Stable-Diffusion-XL-base-1.0')).toBe('stable-diffusion-xl-base-1.0');
  expect(slugFromRepo('someone/My Model__v2!')).toBe('my-model-v2');
});

// Each run starts a Node process that compiles the CLI's TypeScript sources: slow on a loaded machine.
describe('npm run models:fetch', { timeout: 120_000 }, () => {
  const register = fileURLToPath(new URL('../../gpu-runtime/test/support/register-typescript.mjs', import.meta.url));
  const cli = fileURLToPath(new URL('../fetch-model.ts', import.meta.url));
  const run = (args: string[], env: Record<string, string> = {}) =>
    promisify(execFile)(process.execPath, ['--import', register, cli, ...args], {
      env: { ...process.env, HF_ENDPOINT: hub.url, HF_HUB_CACHE: hfCache, MODELS_DIR: modelsDir, DATA_DIR: path.join(modelsDir, 'no-data'), MONGODB_URI: '', HF_TOKEN: '', ...env },
    }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
    );

  test('installs a model and says when it will be registered', async () => {
    const result = await run(['easel/tiny-sdxl-onnx', '--family', 'illustrious', '--slug', 'my-xl']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`Installed easel/tiny-sdxl-onnx@main (ILLUSTRIOUS) in ${path.join(modelsDir, 'my-xl')}`);
    expect(result.stdout).toMatch(/registered in the catalog when Easel next starts/);
  });

  test('registers the model in the catalog of the database at MONGODB_URI', async () => {
    const database = await startJongodb(pino({ level: 'silent' }));
    try {
      const env = { MONGODB_URI: `${database.uri.replace(/\/$/, '')}/easel_fetch_test` };
      const first = await run(['easel/tiny-sd15-onnx@main'], env);
      expect(first.stdout).toContain('Added the catalog entry "tiny-sd15-onnx" (tiny-sd15-onnx).');
      const again = await run(['easel/tiny-sd15-onnx'], env);
      expect(again.stdout).toContain('Updated the catalog entry "tiny-sd15-onnx"');
    } finally {
      await database.stop();
    }
  });

  test('a database that cannot be reached does not stop the download', async () => {
    const result = await run(['easel/tiny-sd15-onnx'], { MONGODB_URI: 'mongodb://127.0.0.1:1/easel?serverSelectionTimeoutMS=200' });
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/Cannot reach Easel's database/);
    expect(result.stdout).toMatch(/registered in the catalog when Easel next starts/);
  });

  test('explains a failure and exits with 1', async () => {
    const result = await run(['easel/pytorch-only']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/Could not fetch easel\/pytorch-only: .*missing/);
  });
});
