import { useEffect, useRef, useState } from 'preact/hooks';
import { FAMILY_LABELS } from '../format.js';
import { imageAlt, type Generation } from './GenerationView.js';

/** One generation in full: its images, every parameter, and what to do with them. */
export function Detail({ generation, onClose, onReuse }: { generation: Generation; onClose: () => void; onReuse: (generation: Generation) => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [copied, setCopied] = useState<string>();
  useEffect(() => {
    dialog.current?.showModal();
  }, []);
  const { settings } = generation;
  const parameters: [string, string | number][] = [
    ['Model', `${generation.model.name} (${FAMILY_LABELS[generation.model.family] ?? generation.model.family})`],
    ['Prompt', generation.prompt],
    ['Prompt sent', generation.finalPrompt],
    ['Negative prompt', generation.negativePrompt ?? ''],
    ['Negative prompt sent', generation.finalNegativePrompt ?? ''],
    ['Size', `${settings.width} × ${settings.height}`],
    ['Steps', settings.steps],
    ['CFG scale', settings.cfgScale],
    ['Sampler', settings.sampler],
    ['Clip skip', settings.clipSkip],
    ['Seed', settings.seed],
    ['Batch size', settings.batchSize],
    ...(generation.baseImageId ? ([['Denoise strength', settings.denoiseStrength]] as [string, number][]) : []),
    ['Status', generation.status],
    ['Created', new Date(generation.createdAt).toLocaleString()],
  ];
  const copy = async (text: string) => {
    try {
      await navigator.clipboard.writeText(text);
      setCopied('Parameters copied.');
    } catch {
      setCopied('The browser refused the clipboard: select the text below and copy it.');
    }
  };
  const infotext = generation.images[0]?.infotext;
  return (
    <dialog ref={dialog} class="detail-dialog" aria-labelledby="detail-title" onClose={onClose}>
      <header>
        <h2 id="detail-title">Generation details</h2>
        <button type="button" onClick={() => dialog.current?.close()}>
          Close
        </button>
      </header>
      <div class="detail-images">
        {generation.images.map((image, index) => (
          <figure key={image.id}>
            <img src={image.signedUrl} alt={imageAlt(generation, index)} width={image.width} height={image.height} />
            <figcaption>
              Seed {image.seed}{' '}
              <a class="button" href={image.signedUrl} download={`easel-${generation.id}-${image.seed}.png`}>
                Download PNG{generation.images.length > 1 ? ` ${index + 1}` : ''}
              </a>
            </figcaption>
          </figure>
        ))}
      </div>
      <dl class="parameters">
        {parameters.map(([name, value]) => (
          <div key={name}>
            <dt>{name}</dt>
            <dd>{value}</dd>
          </div>
        ))}
      </dl>
      <div class="actions">
        <button
          type="button"
          onClick={() => {
            onReuse(generation);
            dialog.current?.close();
          }}
        >
          Use these settings
        </button>
        {infotext && (
          <button type="button" onClick={() => void copy(infotext)}>
            Copy parameters
          </button>
        )}
      </div>
      {copied && <p role="status">{copied}</p>}
      {infotext && (
        <details>
          <summary>Parameters (A1111 infotext)</summary>
          <pre class="infotext">{infotext}</pre>
        </details>
      )}
    </dialog>
  );
}
