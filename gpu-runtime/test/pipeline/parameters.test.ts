import { describe, expect, it } from 'vitest';
import { formatParameters, parseParameters, type ImageParameters } from '../../src/pipeline/parameters.js';

const base: ImageParameters = {
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

describe('A1111 infotext', () => {
  it('writes the settings line in A1111 key order and formatting', () => {
    expect(formatParameters(base)).toBe(
      'masterpiece, (a cat:1.2) on a sofa\n' +
        'Negative prompt: lowres, bad hands\n' +
        'Steps: 20, Sampler: DPM++ 2M SDE, Schedule type: Karras, CFG scale: 7, Seed: 123, Size: 512x768, Model: Pastel Mix, Clip skip: 2',
    );
  });

  it('leaves out defaults: no negative line, no Clip skip 1, denoising only for img2img', () => {
    const text = formatParameters({ ...base, negativePrompt: '', clipSkip: 1, cfgScale: 6.5, sampler: 'euler_a', schedule: 'normal' });
    expect(text).toBe(
      'masterpiece, (a cat:1.2) on a sofa\nSteps: 20, Sampler: Euler a, Schedule type: Normal, CFG scale: 6.5, Seed: 123, Size: 512x768, Model: Pastel Mix',
    );
    expect(formatParameters({ ...base, denoiseStrength: 0.75 })).toContain('Model: Pastel Mix, Denoising strength: 0.75, Clip skip: 2');
  });

  it('quotes values holding a comma, colon or newline, as A1111 does', () => {
    const text = formatParameters({ ...base, model: 'Anime: v2, final' });
    expect(text).toContain('Model: "Anime: v2, final", Clip skip: 2');
    expect(parseParameters(text).model).toBe('Anime: v2, final');
  });

  it('round-trips every field, multi-line prompts included', () => {
    const params: ImageParameters = {
      ...base,
      prompt: 'line one,\nline two: with colon',
      negativePrompt: 'bad\nworse',
      denoiseStrength: 0.6,
      seed: 4294967295,
    };
    const parsed = parseParameters(formatParameters(params));
    const { fields, ...rest } = parsed;
    expect(rest).toEqual(params);
    expect(fields['Schedule type']).toBe('Karras');
  });

  it('reads older A1111 infotexts that fold the schedule into the sampler name', () => {
    const parsed = parseParameters(
      'a dog\nSteps: 30, Sampler: DPM++ 2M Karras, CFG scale: 7.5, Seed: 965400086, Size: 512x512, Model hash: 45dee52b',
    );
    expect(parsed).toMatchObject({ prompt: 'a dog', negativePrompt: '', steps: 30, sampler: 'dpmpp_2m', schedule: 'karras', cfgScale: 7.5, clipSkip: 1 });
    expect(parsed.fields['Model hash']).toBe('45dee52b');
  });

  it('treats a text without a settings line as all prompt, and an unknown sampler as absent', () => {
    expect(parseParameters('just a prompt, nothing else')).toEqual({
      prompt: 'just a prompt, nothing else',
      negativePrompt: '',
      fields: {},
      clipSkip: 1,
    });
    const parsed = parseParameters('x\nSteps: 20, Sampler: UniPC, CFG scale: 7, Seed: 1');
    expect(parsed.sampler).toBeUndefined();
    expect(parsed.fields['Sampler']).toBe('UniPC');
  });
});
