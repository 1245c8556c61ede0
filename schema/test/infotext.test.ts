import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatInfotext, HiresFix, HIRES_UPSCALERS, parseInfotext, RNG_SOURCES, SAMPLER_NOISE, SAMPLERS, SCHEDULES, type InfotextParameters } from '../src/index.js';

const base: InfotextParameters = {
  prompt: 'masterpiece, (a cat:1.2) on a sofa',
  negativePrompt: 'lowres, bad hands',
  steps: 20,
  sampler: 'dpmpp_2m_sde',
  schedule: 'karras',
  cfgScale: 7,
  seed: 123,
  width: 512,
  height: 768,
  model: 'Pastel Mix',
  clipSkip: 2,
};

/** What the infotext gives back, in InfotextParameters' shape. */
function roundTrip(params: InfotextParameters) {
  const { prompt, negativePrompt, settings } = parseInfotext(formatInfotext(params));
  return { prompt, negativePrompt, ...settings };
}

// Reference: A1111's create_infotext (modules/processing.py) and infotext_utils.quote.
describe('A1111 infotext', () => {
  it('writes the settings line in A1111 key order and formatting', () => {
    expect(formatInfotext(base)).toBe(
      'masterpiece, (a cat:1.2) on a sofa\n' +
        'Negative prompt: lowres, bad hands\n' +
        'Steps: 20, Sampler: DPM++ 2M SDE, Schedule type: Karras, CFG scale: 7, Seed: 123, Size: 512x768, Model: Pastel Mix, Clip skip: 2',
    );
  });

  it('leaves out defaults: no negative line, no Clip skip 1, denoising only for img2img and hires', () => {
    const text = formatInfotext({ ...base, negativePrompt: '', clipSkip: 1, cfgScale: 6.5, sampler: 'euler_a', schedule: 'normal' });
    expect(text).toBe('masterpiece, (a cat:1.2) on a sofa\nSteps: 20, Sampler: Euler a, Schedule type: Normal, CFG scale: 6.5, Seed: 123, Size: 512x768, Model: Pastel Mix');
    expect(formatInfotext({ ...base, denoiseStrength: 0.75 })).toContain('Model: Pastel Mix, Denoising strength: 0.75, Clip skip: 2');
  });

  it('writes the hires fix as A1111 does: upscale or resize, steps when set, upscaler, and what differs from the first pass', () => {
    const hires = HiresFix.parse({ scale: 1.5, steps: 10, upscaler: 'Latent (bicubic antialiased)', prompt: 'sharp, detailed', sampler: 'dpmpp_2m' });
    expect(formatInfotext({ ...base, denoiseStrength: 0.55, hires })).toContain(
      'Denoising strength: 0.55, Clip skip: 2, Hires prompt: "sharp, detailed", Hires sampler: DPM++ 2M, Hires upscale: 1.5, Hires steps: 10, Hires upscaler: Latent (bicubic antialiased)',
    );
    const resize = formatInfotext({ ...base, hires: HiresFix.parse({ resizeWidth: 1024, resizeHeight: 0, upscaler: 'Lanczos', sampler: 'dpmpp_2m_sde' }) });
    expect(resize).toContain('Hires resize: 1024x0, Hires upscaler: Lanczos');
    expect(resize).not.toContain('Hires sampler');
    expect(formatInfotext({ ...base, padConds: true })).toContain('Clip skip: 2, Pad conds: True');
  });

  it('quotes values holding a comma, colon or newline, as A1111 does', () => {
    const text = formatInfotext({ ...base, model: 'Anime: v2, final' });
    expect(text).toContain('Model: "Anime: v2, final", Clip skip: 2');
    expect(parseInfotext(text).settings.model).toBe('Anime: v2, final');
  });

  it('round-trips every field, multi-line prompts included', () => {
    const params: InfotextParameters = { ...base, prompt: 'line one,\nline two: with colon', negativePrompt: 'bad\nworse', denoiseStrength: 0.6, seed: 4294967295 };
    expect(roundTrip(params)).toEqual(params);
  });
});

/** Prompts as A1111 keeps them: trimmed lines, none starting like the negative prompt's. */
const promptText = fc
  .array(fc.stringMatching(/^[a-z0-9 ,:()[\]|.]{0,30}$/), { minLength: 1, maxLength: 3 })
  .map((lines) => lines.map((line) => line.trim()).join('\n').trim());

const hiresFix = fc.record({
  scale: fc.double({ min: 1, max: 4, noNaN: true }),
  resize: fc.constantFrom([0, 0], [1024, 0], [0, 1536], [1024, 1536]),
  upscaler: fc.constantFrom(...HIRES_UPSCALERS),
  steps: fc.integer({ min: 0, max: 150 }),
  prompt: promptText,
  negativePrompt: promptText,
  sampler: fc.option(fc.constantFrom(...SAMPLERS), { nil: undefined }),
  schedule: fc.option(fc.constantFrom(...SCHEDULES), { nil: undefined }),
});

const parameters = fc.record({
  prompt: promptText,
  negativePrompt: promptText,
  steps: fc.integer({ min: 1, max: 150 }),
  sampler: fc.constantFrom(...SAMPLERS),
  schedule: fc.constantFrom(...SCHEDULES),
  cfgScale: fc.double({ min: 1, max: 30, noNaN: true }),
  seed: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
  width: fc.integer({ min: 8, max: 256 }).map((n) => n * 8),
  height: fc.integer({ min: 8, max: 256 }).map((n) => n * 8),
  clipSkip: fc.integer({ min: 1, max: 12 }),
  model: fc.option(fc.stringMatching(/^[A-Za-z0-9 .:,_-]{1,20}$/).filter((name) => name.trim() === name && name !== ''), { nil: undefined }),
  denoiseStrength: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: undefined }),
  padConds: fc.boolean(),
  hires: fc.option(hiresFix, { nil: undefined }),
  rngSource: fc.option(fc.constantFrom(...RNG_SOURCES), { nil: undefined }),
  subseed: fc.option(fc.integer({ min: 0, max: 2 ** 32 - 1 }), { nil: undefined }),
  subseedStrength: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: undefined }),
  etaNoiseSeedDelta: fc.option(fc.integer({ min: 0, max: 2 ** 32 - 1 }), { nil: undefined }),
});

describe('the infotext Easel writes', () => {
  it('reads back into the same settings, for every sampler, schedule, hires option, random source, variation seed and ENSD', () => {
    fc.assert(
      fc.property(parameters, (drawn) => {
        const hires = drawn.hires && HiresFix.parse({ ...drawn.hires, resizeWidth: drawn.hires.resize[0], resizeHeight: drawn.hires.resize[1] });
        const params: InfotextParameters = { ...drawn, hires };
        const read = roundTrip(params);
        // Absent and "same as the first pass" mean the same; A1111 writes neither.
        const effective = (p: InfotextParameters | ReturnType<typeof roundTrip>) => ({
          ...p,
          padConds: p.padConds ?? false,
          // A variation seed is written only with a strength, ENSD only where the sampler draws per-step noise.
          subseed: p.subseedStrength ? p.subseed : undefined,
          subseedStrength: p.subseedStrength || undefined,
          etaNoiseSeedDelta: p.etaNoiseSeedDelta && p.sampler && SAMPLER_NOISE[p.sampler] === 'sequential' ? p.etaNoiseSeedDelta : undefined,
          hires: p.hires && {
            ...HiresFix.parse(p.hires),
            // A scale is not written with a resize, and an unset one reads back as the default.
            scale: p.hires.resizeWidth || p.hires.resizeHeight ? undefined : p.hires.scale,
            resizeWidth: p.hires.resizeWidth ?? 0,
            resizeHeight: p.hires.resizeHeight ?? 0,
            sampler: p.hires.sampler ?? p.sampler,
            schedule: p.hires.schedule ?? p.schedule,
          },
        });
        expect(effective(read)).toEqual(effective(params));
        expect(parseInfotext(formatInfotext(params)).unmapped).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });
});

describe('pasted infotexts', () => {
  it('reads older A1111 infotexts that fold the schedule into the sampler name', () => {
    const parsed = parseInfotext('a dog\nSteps: 30, Sampler: DPM++ 2M Karras, CFG scale: 7.5, Seed: 965400086, Size: 512x512, Model hash: 45dee52b');
    expect(parsed).toMatchObject({ prompt: 'a dog', negativePrompt: '', settings: { steps: 30, sampler: 'dpmpp_2m', schedule: 'karras', cfgScale: 7.5, clipSkip: 1 } });
    expect(parsed.unmapped).toEqual([{ key: 'Model hash', value: '45dee52b', reason: expect.stringMatching(/catalog id/) }]);
  });

  it('treats a text without a settings line as all prompt, and names an unknown sampler', () => {
    expect(parseInfotext('just a prompt, nothing else')).toEqual({ prompt: 'just a prompt, nothing else', negativePrompt: '', settings: { clipSkip: 1 }, fields: {}, unmapped: [] });
    const parsed = parseInfotext('x\nSteps: 20, Sampler: UniPC, CFG scale: 7, Seed: 1');
    expect(parsed.settings.sampler).toBeUndefined();
    expect(parsed.unmapped).toEqual([{ key: 'Sampler', value: 'UniPC', reason: expect.stringMatching(/not one Easel runs/) }]);
  });

  // Shapes of real infotexts: A1111 1.10 with hires fix, Forge (Flux, Distilled CFG), Civitai's generator.
  it('reads A1111, Forge and Civitai infotexts, naming what it could not map', () => {
    const a1111 = parseInfotext(
      '1girl, [smile:frown:0.5]\nNegative prompt: lowres\nSteps: 28, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 42, Size: 832x1216, Model hash: 67ab2fd8ec, Model: ponyDiffusionV6XL, Denoising strength: 0.4, Clip skip: 2, Hires upscale: 1.5, Hires steps: 15, Hires upscaler: Latent (nearest-exact), Lora hashes: "detail: 5ae4e3f4d2cb", Version: v1.10.1',
    );
    expect(a1111.settings).toEqual({
      steps: 28, sampler: 'dpmpp_2m', schedule: 'karras', cfgScale: 7, seed: 42, width: 832, height: 1216, model: 'ponyDiffusionV6XL', denoiseStrength: 0.4, clipSkip: 2,
      hires: { scale: 1.5, steps: 15, upscaler: 'Latent (nearest-exact)' },
      loraHashes: [{ name: 'detail', hash: '5ae4e3f4d2cb' }],
    });
    expect(a1111.unmapped.map((field) => field.key)).toEqual(['Model hash', 'Version']);

    const forge = parseInfotext('a fox\nSteps: 20, Sampler: Euler, Schedule type: Simple, CFG scale: 1, Distilled CFG Scale: 3.5, Seed: 5, Size: 896x1152, Model: flux1-dev-bnb-nf4-v2, Version: f2.0.1v1.10.1-previous-313-g8a042934');
    expect(forge.settings.guidance).toBe(3.5);
    expect(forge.unmapped.map((field) => field.key)).toEqual(['Version']);

    const civitai = parseInfotext(
      'cat\nNegative prompt: bad\nSteps: 25, CFG scale: 5, Sampler: Euler a, Seed: 1, Size: 1024x1024, Clip skip: 2, Created Date: 2024-09-01T10:00:00.000Z, Civitai resources: [{"type":"checkpoint","modelVersionId":290640}], Civitai metadata: {}',
    );
    expect(civitai.settings).toMatchObject({ sampler: 'euler_a', schedule: 'normal', steps: 25, clipSkip: 2 });
    expect(civitai.unmapped.map((field) => [field.key, field.reason])).toEqual([
      ['Created Date', expect.any(String)],
      ['Civitai resources', expect.stringMatching(/catalog id/)],
      ['Civitai metadata', expect.any(String)],
    ]);
  });
});
