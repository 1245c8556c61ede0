import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { takesNegativePrompt } from '@easel/schema/families';
import { Api, ApiError } from './api.js';
import { AdvancedSettings } from './components/AdvancedSettings.js';
import { BaseImage, type BaseImageValue } from './components/BaseImage.js';
import { Detail } from './components/Detail.js';
import { Gallery } from './components/Gallery.js';
import { GenerationView, isFinished, type Generation } from './components/GenerationView.js';
import { ModelPicker } from './components/ModelPicker.js';
import { PromptBox } from './components/PromptBox.js';
import { SignIn } from './components/SignIn.js';
import { Tokens, type TokenBalance } from './components/Tokens.js';
import { plural, timeOfDay } from './format.js';
import type { VariablesOf } from './graphql.js';
import {
  AnalyzePromptQuery,
  BaseImageQuery,
  CancelGenerationMutation,
  GenerateImageMutation,
  GenerationsQuery,
  GenerationUpdatedSubscription,
  MeQuery,
  MyGenerationsSubscription,
  StudioCatalogQuery,
  type Analysis,
  type Model,
  type SamplerOption,
} from './operations.js';
import { forgetKey, storedKey, storeKey, takeKeyFromFragment } from './session.js';
import { fitToModel, loadSettings, saveSettings, withModelDefaults, type StudioSettings } from './settings.js';

const ANALYZE_DELAY_MS = 300;
const GALLERY_PAGE = 12;

export function App() {
  const [key, setKey] = useState<string | undefined>(() => {
    const fromLink = takeKeyFromFragment();
    if (fromLink) storeKey(fromLink);
    return fromLink ?? storedKey();
  });
  const [problem, setProblem] = useState<string>();
  const api = useMemo(() => (key ? new Api(key) : undefined), [key]);
  useEffect(() => () => api?.close(), [api]);

  const signOut = (reason?: string) => {
    forgetKey();
    setKey(undefined);
    setProblem(reason);
  };

  if (!api) {
    return (
      <SignIn
        problem={problem}
        onKey={(value) => {
          storeKey(value);
          setProblem(undefined);
          setKey(value);
        }}
      />
    );
  }
  return <Studio key={key} api={api} onSignOut={signOut} />;
}

type GenerateInput = VariablesOf<typeof GenerateImageMutation>['input'];

function Studio({ api, onSignOut }: { api: Api; onSignOut: (reason?: string) => void }) {
  const [me, setMe] = useState<{ name: string; tokens: TokenBalance }>();
  const [models, setModels] = useState<Model[]>([]);
  const [samplers, setSamplers] = useState<SamplerOption[]>([]);
  const [settings, setSettings] = useState<StudioSettings>(loadSettings);
  const [baseImage, setBaseImage] = useState<BaseImageValue>();
  const [analysis, setAnalysis] = useState<Analysis>();
  const [current, setCurrent] = useState<Generation>();
  const [failure, setFailure] = useState<ApiError>();
  const [sending, setSending] = useState(false);
  const [advancedOpen, setAdvancedOpen] = useState(false);
  const [lastSeed, setLastSeed] = useState<number>();
  const [gallery, setGallery] = useState<{ items: Generation[]; after?: string; hasMore: boolean; loading: boolean }>({ items: [], hasMore: true, loading: false });
  const [detail, setDetail] = useState<Generation>();
  const unsubscribe = useRef<() => void>();

  const update = useCallback((changes: Partial<StudioSettings>) => setSettings((old) => ({ ...old, ...changes })), []);
  useEffect(() => saveSettings(settings), [settings]);

  const fail = useCallback(
    (error: unknown) => {
      if (error instanceof ApiError && error.code === 'UNAUTHENTICATED') onSignOut('That API key is unknown or revoked: sign in with another.');
      else setFailure(error instanceof ApiError ? error : new ApiError([{ message: String(error) }]));
    },
    [onSignOut],
  );

  const refreshTokens = useCallback(() => api.request(MeQuery).then(({ me }) => setMe(me), fail), [api, fail]);

  // First load: who I am, the catalog and the samplers; then a model that can run.
  useEffect(() => {
    void refreshTokens();
    api.request(StudioCatalogQuery).then(({ models, samplers }) => {
      setModels(models);
      setSamplers(samplers);
      setSettings((old) => {
        const kept = models.find((model) => model.id === old.modelId && model.installed);
        if (kept) return fitToModel(old, kept);
        const first = models.find((model) => model.installed && model.tier === 'EASY') ?? models.find((model) => model.installed);
        return first ? withModelDefaults(old, first) : old;
      });
    }, fail);
    return () => unsubscribe.current?.();
  }, [api, refreshTokens, fail]);

  const model = models.find((entry) => entry.id === settings.modelId);
  // Flux takes no negative prompt (the API refuses one): the field is hidden and nothing is sent.
  const negativePrompt = !model || takesNegativePrompt(model.family) ? settings.negativePrompt : '';

  // Live analysis, once typing pauses; an answer to an older text is dropped.
  useEffect(() => {
    if (!settings.modelId || !settings.prompt.trim()) {
      setAnalysis(undefined);
      return;
    }
    let stale = false;
    const timer = setTimeout(() => {
      api
        .request(AnalyzePromptQuery, { modelId: settings.modelId!, prompt: settings.prompt, negativePrompt: negativePrompt || null })
        .then(({ analyzePrompt }) => !stale && setAnalysis(analyzePrompt), () => !stale && setAnalysis(undefined));
    }, ANALYZE_DELAY_MS);
    return () => {
      stale = true;
      clearTimeout(timer);
    };
  }, [api, settings.modelId, settings.prompt, negativePrompt]);

  const loadMore = useCallback(() => {
    setGallery((old) => {
      if (old.loading || !old.hasMore) return old;
      api.request(GenerationsQuery, { first: GALLERY_PAGE, after: old.after ?? null }).then(({ generations }) => {
        setGallery((now) => {
          const known = new Set(now.items.map((item) => item.id));
          return {
            items: newestFirst([...now.items, ...generations.edges.map((edge) => edge.node).filter((node) => !known.has(node.id))]),
            after: generations.pageInfo.endCursor ?? now.after,
            hasMore: generations.pageInfo.hasNextPage,
            loading: false,
          };
        });
      }, (error) => {
        setGallery((now) => ({ ...now, loading: false, hasMore: false }));
        fail(error);
      });
      return { ...old, loading: true };
    });
  }, [api, fail]);

  /** A generation's latest state into the gallery: in its place, or first when it is new. */
  const showInGallery = useCallback(
    (generation: Generation) =>
      setGallery((old) => {
        const at = old.items.findIndex((item) => item.id === generation.id);
        if (at < 0) return { ...old, items: newestFirst([generation, ...old.items]) };
        return { ...old, items: old.items.map((item, index) => (index === at ? generation : item)) };
      }),
    [],
  );

  // The first page at once; the next ones as the gallery's end scrolls into view.
  useEffect(loadMore, [loadMore]);

  // Every change to any of my generations, from this tab or elsewhere, keeps the gallery and the tokens current.
  useEffect(
    () =>
      api.subscribe(MyGenerationsSubscription, {}, {
        next: ({ myGenerations }) => {
          showInGallery(myGenerations);
          if (isFinished(myGenerations)) void refreshTokens();
        },
        error: fail,
      }),
    [api, showInGallery, refreshTokens, fail],
  );

  const follow = (generation: Generation) => {
    unsubscribe.current?.();
    unsubscribe.current = api.subscribe(GenerationUpdatedSubscription, { id: generation.id }, {
      next: ({ generationUpdated }) => {
        setCurrent(generationUpdated);
        showInGallery(generationUpdated);
        if (isFinished(generationUpdated)) {
          setLastSeed(generationUpdated.settings.seed);
          void refreshTokens();
        }
      },
      error: fail,
    });
  };

  const cost = settings.batchSize;
  const balance = me?.tokens.balance;
  const short = balance !== undefined && balance < cost;
  const busy = sending || (current !== undefined && !isFinished(current));
  const blocked = !model ? 'Pick a model first.' : !settings.prompt.trim() ? 'Write a prompt first.' : short ? shortReason(cost, me!.tokens) : undefined;

  const generate = async () => {
    if (!model || blocked || busy) return;
    setSending(true);
    setFailure(undefined);
    const seed = settings.seedMode === 'fixed' ? settings.seed : settings.seedMode === 'last' ? lastSeed : undefined;
    const input: GenerateInput = {
      modelId: model.id,
      prompt: settings.prompt,
      negativePrompt: negativePrompt || null,
      enhancePrompt: settings.enhancePrompt,
      steps: settings.steps,
      cfgScale: settings.cfgScale,
      sampler: settings.sampler || null,
      clipSkip: settings.clipSkip,
      width: settings.width,
      height: settings.height,
      batchSize: settings.batchSize,
      seed: seed ?? null,
      baseImageId: baseImage?.id ?? null,
      denoiseStrength: baseImage ? settings.denoiseStrength : null,
      clientRequestId: crypto.randomUUID(),
    };
    try {
      const { generateImage } = await api.request(GenerateImageMutation, { input });
      setCurrent(generateImage);
      showInGallery(generateImage);
      follow(generateImage);
      void refreshTokens();
    } catch (error) {
      fail(error);
      // Settings the API refused are in the fold: open it so their messages show.
      if (error instanceof ApiError && error.errors.some((detail) => detail.invalidFields?.length)) setAdvancedOpen(true);
    } finally {
      setSending(false);
    }
  };

  const cancel = () => {
    if (current) api.request(CancelGenerationMutation, { id: current.id }).then(({ cancelGeneration }) => setCurrent(cancelGeneration), fail);
  };

  const reuse = (generation: Generation) => {
    const used = models.find((entry) => entry.id === generation.model.id);
    const { settings: s } = generation;
    setSettings((old) => ({
      ...old,
      modelId: used?.installed ? used.id : old.modelId,
      prompt: generation.prompt,
      negativePrompt: generation.negativePrompt ?? '',
      enhancePrompt: generation.enhancePrompt,
      steps: s.steps,
      cfgScale: s.cfgScale,
      sampler: s.sampler,
      clipSkip: s.clipSkip,
      width: s.width,
      height: s.height,
      batchSize: s.batchSize,
      denoiseStrength: s.denoiseStrength,
      seedMode: 'fixed',
      seed: s.seed,
    }));
    // The base image too (img2img), or none (text-to-image).
    setBaseImage(undefined);
    if (generation.baseImageId) {
      api.request(BaseImageQuery, { id: generation.id }).then(({ generation: found }) => {
        const image = found?.baseImage;
        if (image) setBaseImage({ id: image.id, width: image.width, height: image.height, previewUrl: image.signedUrl, name: 'from the earlier generation' });
      }, fail);
    }
    document.getElementById('prompt')?.focus();
  };

  const errorFor = (field: string) => failure?.fieldMessage(field);
  const generalError = failure && !failure.errors.some((detail) => detail.invalidFields?.length) ? failure.message : undefined;

  return (
    <div class="studio">
      <header class="top">
        <h1>Easel Studio</h1>
        {me && <Tokens tokens={me.tokens} />}
        <div class="who">
          {me && <span>{me.name}</span>}
          <button type="button" onClick={() => onSignOut()}>
            Sign out
          </button>
        </div>
      </header>
      <main>
        <form
          class="create"
          aria-label="Create"
          // The API checks every field and names the ones at fault; its messages show beside them.
          noValidate
          onSubmit={(event) => {
            event.preventDefault();
            void generate();
          }}
        >
          <ModelPicker models={models} selected={model} onSelect={(picked) => setSettings((old) => withModelDefaults(old, picked))} />
          <PromptBox id="prompt" label="Prompt" value={settings.prompt} onChange={(prompt) => update({ prompt })} analysis={analysis?.prompt} error={errorFor('prompt')} rows={5}>
            <label class="check">
              <input type="checkbox" checked={settings.enhancePrompt} onChange={(event) => update({ enhancePrompt: event.currentTarget.checked })} />
              Prompt enhancer: add {model ? model.name : 'the model'}’s quality tags
            </label>
            {settings.enhancePrompt && analysis && (
              <div class="enhanced">
                <p class="hint">The model will receive:</p>
                <p class="final-prompt" data-testid="enhanced-prompt">
                  {analysis.enhancedPrompt}
                </p>
                {analysis.enhancedNegativePrompt && (
                  <p class="final-negative">
                    <span class="hint">Negative: </span>
                    {analysis.enhancedNegativePrompt}
                  </p>
                )}
              </div>
            )}
          </PromptBox>
          <BaseImage
            api={api}
            value={baseImage}
            onChange={setBaseImage}
            size={settings}
            denoiseStrength={settings.denoiseStrength}
            onDenoise={(denoiseStrength) => update({ denoiseStrength })}
            error={errorFor('baseImageId') ?? errorFor('denoiseStrength')}
          />
          <AdvancedSettings
            settings={settings}
            update={update}
            model={model}
            samplers={samplers}
            lastSeed={lastSeed}
            errorFor={errorFor}
            open={advancedOpen}
            onToggle={setAdvancedOpen}
            negativePrompt={
              model && !takesNegativePrompt(model.family) ? (
                <p class="hint" data-testid="no-negative-prompt">
                  Flux runs without classifier-free guidance: it takes no negative prompt. Say what you want in the prompt.
                </p>
              ) : (
                <PromptBox
                  id="negative-prompt"
                  label="Negative prompt"
                  value={settings.negativePrompt}
                  onChange={(negativePrompt) => update({ negativePrompt })}
                  analysis={analysis?.negativePrompt}
                  error={errorFor('negativePrompt')}
                  rows={3}
                />
              )
            }
          />
          <div class="generate-bar">
            <button type="submit" class="generate" disabled={Boolean(blocked) || busy} aria-describedby={blocked ? 'generate-reason' : undefined}>
              Generate · {plural(cost, 'token')}
            </button>
            {blocked && (
              <p id="generate-reason" class={short ? 'error' : 'hint'} role="status">
                {blocked}
              </p>
            )}
            {generalError && (
              <p class="error" role="alert">
                {generalError}
              </p>
            )}
          </div>
        </form>
        <div class="results">
          {current && <GenerationView generation={current} onCancel={cancel} onOpen={setDetail} />}
          <Gallery generations={gallery.items} hasMore={gallery.hasMore} loading={gallery.loading} onMore={loadMore} onOpen={setDetail} />
        </div>
      </main>
      {detail && <Detail generation={detail} onClose={() => setDetail(undefined)} onReuse={reuse} />}
    </div>
  );
}

/** The gallery's order, whichever way a generation arrived (a page, or a live update). */
const newestFirst = (items: Generation[]) => [...items].sort((a, b) => b.createdAt.localeCompare(a.createdAt));

function shortReason(cost: number, tokens: TokenBalance): string {
  return `Not enough tokens: this needs ${plural(cost, 'token')} and you have ${tokens.balance}. Your daily tokens come back at ${timeOfDay(tokens.resetsAt)}.`;
}
