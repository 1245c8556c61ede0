import type { ResultOf } from '../graphql.js';
import type { GenerationFields } from '../operations.js';
import { etaText, plural } from '../format.js';

export type Generation = ResultOf<typeof GenerationFields>;

export const isFinished = (generation: Generation) => ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(generation.status);

export const imageAlt = (generation: Generation, index: number) =>
  `Generated image${generation.images.length > 1 ? ` ${index + 1} of ${generation.images.length}` : ''}: ${generation.prompt}`;

/** The generation being made: queue position and ETA, progress, step previews, Cancel; then its images. */
export function GenerationView({ generation, onCancel, onOpen }: { generation: Generation; onCancel: () => void; onOpen: (generation: Generation) => void }) {
  const { status } = generation;
  const running = status === 'RUNNING';
  return (
    <section class="current" aria-label="Current generation" aria-busy={!isFinished(generation)}>
      <p class="status" role="status">
        {status === 'QUEUED' &&
          (generation.queuePosition ? `Queued: ${generation.queuePosition === 1 ? 'next to run' : `number ${generation.queuePosition} in line`}` : 'Queued')}
        {running && `Step ${generation.step} of ${generation.totalSteps}${generation.etaSeconds !== null ? ` · ${etaText(generation.etaSeconds)}` : ''}`}
        {running && generation.cancelRequested && ' · cancelling…'}
        {status === 'SUCCEEDED' && `Done: ${plural(generation.images.length, 'image')}`}
        {status === 'CANCELLED' && `Cancelled${generation.refunded ? `: ${plural(generation.tokensCharged, 'token')} refunded` : ''}`}
        {status === 'FAILED' && `Failed: ${generation.error ?? generation.errorCode ?? 'unknown error'}${generation.refunded ? ' (tokens refunded)' : ''}`}
      </p>
      {!isFinished(generation) && (
        <>
          <progress aria-label="Progress" max={generation.totalSteps || 1} value={generation.step} />
          <button type="button" class="cancel" onClick={onCancel} disabled={generation.cancelRequested}>
            Cancel
          </button>
        </>
      )}
      {generation.previewUrl && !isFinished(generation) && (
        <img class="preview" src={generation.previewUrl} alt={`Preview at step ${generation.step}`} width={generation.settings.width} height={generation.settings.height} />
      )}
      {generation.warnings.length > 0 && (
        <ul class="warnings" aria-label="Generation warnings">
          {generation.warnings.map((warning, index) => (
            <li key={index}>
              <span class="code">{warning.code}</span> {warning.message}
            </li>
          ))}
        </ul>
      )}
      {status === 'SUCCEEDED' && (
        <div class="images">
          {generation.images.map((image, index) => (
            <button type="button" class="image-button" key={image.id} onClick={() => onOpen(generation)} aria-label={`Open details of image ${index + 1}`}>
              <img src={image.signedUrl} alt={imageAlt(generation, index)} width={image.width} height={image.height} />
            </button>
          ))}
        </div>
      )}
    </section>
  );
}
