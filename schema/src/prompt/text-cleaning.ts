/**
 * CLIP's text clean-up before tokenizing: a light version of the `ftfy.fix_text` pass that
 * transformers' CLIPTokenizer runs, then whitespace collapsed and everything lowercased. It covers
 * what turns up in prompts pasted from web pages and chat apps (HTML entities, curly quotes,
 * full-width characters, ligatures, stray control characters); ftfy's mojibake repair is left out.
 */
export function cleanText(text: string): string {
  return fixText(text).replace(/\s+/g, ' ').trim().toLowerCase();
}

function fixText(text: string): string {
  // ftfy leaves entities alone in text that looks like HTML markup.
  const unescaped = text.includes('<') ? text : unescapeHtml(text);
  return unescaped
    .replace(CONTROL_CHARACTERS, '')
    .replace(CURLY_SINGLE_QUOTES, "'")
    .replace(CURLY_DOUBLE_QUOTES, '"')
    .replace(WIDTH_VARIANTS_AND_LIGATURES, (char) => char.normalize('NFKC'))
    .normalize('NFC');
}

const CONTROL_CHARACTERS = /[\u0000-\u0008\u000b\u000e-\u001f\u007f\ufeff]/g;
const CURLY_SINGLE_QUOTES = /[\u2018\u2019\u201a\u201b]/g;
const CURLY_DOUBLE_QUOTES = /[\u201c\u201d\u201e\u201f]/g;
/** Ideographic space, full- and half-width forms, and the Latin ligatures ﬀ ﬁ ﬂ ﬃ ﬄ ﬅ ﬆ. */
const WIDTH_VARIANTS_AND_LIGATURES = /[\u3000\uff01-\uffef\ufb00-\ufb06]/g;

const NAMED_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };
const HTML_ENTITY = /&(?:#(\d{1,7})|#x([0-9a-f]{1,6})|(amp|lt|gt|quot|apos|nbsp));/gi;

function unescapeHtml(text: string): string {
  return text.replace(HTML_ENTITY, (entity, decimal?: string, hex?: string, name?: string) => {
    if (name) return NAMED_ENTITIES[name.toLowerCase()];
    const codePoint = decimal ? Number(decimal) : parseInt(hex!, 16);
    return codePoint > 0 && codePoint <= 0x10ffff ? String.fromCodePoint(codePoint) : entity;
  });
}
