import { describe, expect, it } from 'vitest';
import { extractLoraTags, formatLoraTag, parseAttention } from '../../src/prompt/index.js';

describe('extractLoraTags', () => {
  it('reads A1111\'s forms: name only, one weight, text encoder and UNet weights, named arguments, lyco', () => {
    const { tags, problems } = extractLoraTags('<lora:a> <lora:b:0.8> <lora:c:1:0.5> <lora:d:te=0.3:unet=0.7> <LyCo:e:-1>');
    expect(problems).toEqual([]);
    expect(tags.map(({ name, weight, unetWeight }) => ({ name, weight, unetWeight }))).toEqual([
      { name: 'a', weight: undefined, unetWeight: undefined },
      { name: 'b', weight: 0.8, unetWeight: undefined },
      { name: 'c', weight: 1, unetWeight: 0.5 },
      { name: 'd', weight: 0.3, unetWeight: 0.7 },
      { name: 'e', weight: -1, unetWeight: undefined },
    ]);
  });

  it('cuts the tags from the text the encoders see, wherever they are, before the attention parser runs', () => {
    const prompt = 'masterpiece, (1girl:1.2), <lora:Pastel Style v2:0.7> smile, [<lora:detail:1>sky]';
    const { text, tags } = extractLoraTags(prompt);
    expect(text).toBe('masterpiece, (1girl:1.2),  smile, [sky]');
    expect(tags.map((tag) => tag.name)).toEqual(['Pastel Style v2', 'detail']);
    expect(prompt.slice(tags[0].start, tags[0].end)).toBe('<lora:Pastel Style v2:0.7>');
    // Without cutting, the colon and weight would leak into the text as words.
    expect(parseAttention(text).map((s) => s.text).join('')).not.toContain('lora');
  });

  it('leaves other angle brackets and hypernetworks alone', () => {
    expect(extractLoraTags('a <b> c <hypernet:x:1>').text).toBe('a <b> c <hypernet:x:1>');
  });

  it('reports a bad weight or a missing name and keeps the rest', () => {
    const { tags, problems } = extractLoraTags('<lora:x:strong> <lora::1> <lora:y:1:2:3> <lora:ok:0.5>');
    expect(tags.map((tag) => tag.name)).toEqual(['ok']);
    expect(problems.map((p) => p.message)).toEqual([
      '<lora:x:…> has a weight that is not a number: "strong"',
      'a <lora:…> tag without a name',
      '<lora:y:…> has 3 weights; at most two (text encoder, UNet)',
    ]);
  });

  it('writes tags back as A1111 does, the UNet weight only when it differs', () => {
    expect(formatLoraTag({ name: 'x', weight: 0.8 })).toBe('<lora:x:0.8>');
    expect(formatLoraTag({ name: 'x', weight: 0.8, unetWeight: 0.8 })).toBe('<lora:x:0.8>');
    expect(formatLoraTag({ name: 'x', weight: 1, unetWeight: 0.5 })).toBe('<lora:x:1:0.5>');
    const round = extractLoraTags(formatLoraTag({ name: 'x', weight: 1, unetWeight: 0.5 })).tags[0];
    expect(round).toMatchObject({ name: 'x', weight: 1, unetWeight: 0.5 });
  });
});
