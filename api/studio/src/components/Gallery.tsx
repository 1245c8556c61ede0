import { useEffect, useRef } from 'preact/hooks';
import { imageAlt, type Generation } from './GenerationView.js';

const STATUS_LABELS: Record<string, string> = {
  QUEUED: 'Queued',
  RUNNING: 'Running',
  SUCCEEDED: 'Done',
  FAILED: 'Failed',
  CANCELLED: 'Cancelled',
};

/** My generations, newest first; the next page loads when the end of the list scrolls into view. */
export function Gallery({ generations, hasMore, loading, onMore, onOpen }: { generations: Generation[]; hasMore: boolean; loading: boolean; onMore: () => void; onOpen: (generation: Generation) => void }) {
  const sentinel = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!hasMore || loading || !sentinel.current) return;
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((entry) => entry.isIntersecting)) onMore();
    });
    observer.observe(sentinel.current);
    return () => observer.disconnect();
  }, [hasMore, loading, onMore]);

  return (
    <section class="gallery" aria-labelledby="gallery-title">
      <h2 id="gallery-title">My generations</h2>
      {generations.length === 0 && !loading && <p class="hint">Nothing yet: your images appear here.</p>}
      <ul>
        {generations.map((generation) => (
          <li key={generation.id}>
            <button type="button" class="gallery-item" onClick={() => onOpen(generation)} aria-label={`Details: ${generation.prompt} (${STATUS_LABELS[generation.status]})`}>
              {generation.images[0] ? (
                <img src={generation.images[0].signedUrl} alt={imageAlt(generation, 0)} loading="lazy" width={generation.images[0].width} height={generation.images[0].height} />
              ) : (
                <span class="placeholder">{generation.prompt}</span>
              )}
              <span class={`badge status-${generation.status.toLowerCase()}`}>{STATUS_LABELS[generation.status]}</span>
            </button>
          </li>
        ))}
      </ul>
      <div ref={sentinel} class="sentinel">
        {loading && <p role="status">Loading…</p>}
      </div>
    </section>
  );
}
