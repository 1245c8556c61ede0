import { useState } from 'preact/hooks';
import { ApiError, type Api } from '../api.js';

export interface BaseImageValue {
  id: string;
  width: number;
  height: number;
  /** For the preview: a data: URL of a file just chosen (the page's CSP allows data: images, not blob:), or a signed link to an earlier upload. */
  previewUrl: string;
  name: string;
}

interface Props {
  api: Api;
  value?: BaseImageValue;
  onChange: (value: BaseImageValue | undefined) => void;
  size: { width: number; height: number };
  denoiseStrength: number;
  onDenoise: (value: number) => void;
  error?: string;
}

const readAsDataUrl = (file: File) =>
  new Promise<string>((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });

/** Ratios further apart than this crop or stretch visibly. */
const ASPECT_TOLERANCE = 0.02;

/** img2img: drop or choose an image, see it, and set how much of it is repainted. */
export function BaseImage({ api, value, onChange, size, denoiseStrength, onDenoise, error }: Props) {
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string>();
  const [dragging, setDragging] = useState(false);

  const take = async (file: File | undefined) => {
    if (!file) return;
    setBusy(true);
    setProblem(undefined);
    try {
      const [uploaded, previewUrl] = await Promise.all([api.upload(file), readAsDataUrl(file)]);
      onChange({ ...uploaded, previewUrl, name: file.name });
    } catch (caught) {
      setProblem(caught instanceof ApiError ? caught.message : 'The image could not be read.');
    } finally {
      setBusy(false);
    }
  };

  const aspectOff = value && Math.abs(value.width / value.height - size.width / size.height) > ASPECT_TOLERANCE;

  return (
    <fieldset class="base-image">
      <legend>Base image (optional)</legend>
      <div
        class={`drop ${dragging ? 'dragging' : ''}`}
        onDragOver={(event) => {
          event.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={(event) => {
          event.preventDefault();
          setDragging(false);
          void take(event.dataTransfer?.files[0]);
        }}
      >
        {value ? (
          <img src={value.previewUrl} alt={`Base image ${value.name}, ${value.width}×${value.height}`} class="base-preview" />
        ) : (
          <p>Drop a PNG, JPEG or WebP here, or choose one.</p>
        )}
        <label class="button">
          {value ? 'Replace image' : 'Choose image'}
          <input type="file" accept="image/png,image/jpeg,image/webp" class="visually-hidden" disabled={busy} onChange={(event) => void take(event.currentTarget.files?.[0])} />
        </label>
        {value && (
          <button type="button" onClick={() => onChange(undefined)}>
            Remove base image
          </button>
        )}
      </div>
      {busy && <p role="status">Uploading…</p>}
      {(problem || error) && (
        <p class="error" role="alert">
          {problem ?? error}
        </p>
      )}
      {aspectOff && (
        <p class="warn" role="status">
          Its aspect ratio ({value.width}×{value.height}) differs from the size chosen ({size.width}×{size.height}): it will be resized to that size, and look stretched.
        </p>
      )}
      {value && (
        <div class="field">
          <label for="denoise">Denoise strength: {denoiseStrength.toFixed(2)}</label>
          <input id="denoise" type="range" min={0} max={1} step={0.05} value={denoiseStrength} onInput={(event) => onDenoise(Number(event.currentTarget.value))} />
          <p class="hint">0 keeps the image, 1 repaints it all.</p>
        </div>
      )}
    </fieldset>
  );
}
