/** Small formatting helpers shared by the components. */

export const FAMILY_LABELS: Record<string, string> = {
  SD15: 'SD 1.5',
  SDXL: 'SDXL',
  ILLUSTRIOUS: 'Illustrious',
  PONY: 'Pony',
  FLUX: 'Flux',
};

export const plural = (count: number, word: string) => `${count} ${word}${count === 1 ? '' : 's'}`;

export function timeOfDay(iso: string): string {
  return new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

export function untilText(iso: string, now = Date.now()): string {
  const minutes = Math.max(0, Math.round((new Date(iso).getTime() - now) / 60_000));
  if (minutes < 60) return `in ${plural(minutes, 'minute')}`;
  const hours = Math.floor(minutes / 60);
  return `in ${plural(hours, 'hour')} ${minutes % 60 ? plural(minutes % 60, 'minute') : ''}`.trim();
}

export function etaText(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return '';
  return seconds < 1 ? 'under a second left' : `about ${Math.ceil(seconds)} s left`;
}
