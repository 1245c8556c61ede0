import type { ComponentChildren } from 'preact';
import type { Model, SamplerOption } from '../operations.js';
import { NUMBER_FIELDS, SEED_RANGE, type SeedMode, type StudioSettings } from '../settings.js';

interface Props {
  settings: StudioSettings;
  update: (changes: Partial<StudioSettings>) => void;
  model?: Model;
  samplers: SamplerOption[];
  /** The seed of the last generation, for "reuse the last". */
  lastSeed?: number;
  /** The API's message for a field, by the field's input name. */
  errorFor: (field: string) => string | undefined;
  /** The negative prompt box, drawn by the caller (it shares the prompt's analysis). */
  negativePrompt: ComponentChildren;
  open: boolean;
  onToggle: (open: boolean) => void;
}

function FieldError({ id, message }: { id: string; message?: string }) {
  return message ? (
    <p class="error" id={id} role="alert">
      {message}
    </p>
  ) : null;
}

const SEED_MODES: { mode: SeedMode; label: string }[] = [
  { mode: 'random', label: 'Random' },
  { mode: 'fixed', label: 'Fixed' },
  { mode: 'last', label: 'Reuse the last' },
];

/** Folded by default: the settings a user of A1111 or Civitai expects, each with its hint. */
export function AdvancedSettings({ settings, update, model, samplers, lastSeed, errorFor, negativePrompt, open, onToggle }: Props) {
  // Recommended ones first, as the `samplers` query marks them.
  const samplerGroups = [
    { label: 'Recommended', options: samplers.filter((option) => option.recommended) },
    { label: 'Others', options: samplers.filter((option) => !option.recommended) },
  ];
  const sizeValue = `${settings.width}x${settings.height}`;
  return (
    <details class="advanced" open={open} onToggle={(event) => onToggle(event.currentTarget.open)}>
      <summary>Advanced settings</summary>
      <div class="grid">
        {NUMBER_FIELDS.map((field) => (
          <div class="field" key={field.name}>
            <label for={`setting-${field.name}`}>{field.label}</label>
            <input
              id={`setting-${field.name}`}
              type="number"
              inputMode="decimal"
              min={field.min}
              max={field.max}
              step={field.step}
              value={settings[field.name]}
              aria-describedby={`setting-${field.name}-hint`}
              aria-invalid={errorFor(field.name) ? true : undefined}
              onInput={(event) => {
                const number = event.currentTarget.valueAsNumber;
                if (Number.isFinite(number)) update({ [field.name]: number });
              }}
            />
            <p class="hint" id={`setting-${field.name}-hint`}>
              {field.hint} ({field.min}–{field.max})
            </p>
            <FieldError id={`setting-${field.name}-error`} message={errorFor(field.name)} />
          </div>
        ))}

        <div class="field">
          <label for="setting-sampler">Sampler</label>
          <select id="setting-sampler" value={settings.sampler} onChange={(event) => update({ sampler: event.currentTarget.value })}>
            {samplerGroups.map(({ label, options }) => (
              <optgroup key={label} label={label}>
                {options.map((option) => (
                  <option key={option.label} value={option.label}>
                    {option.label}
                  </option>
                ))}
              </optgroup>
            ))}
          </select>
          <FieldError id="setting-sampler-error" message={errorFor('sampler') ?? errorFor('scheduleType')} />
        </div>

        <div class="field">
          <label for="setting-size">Size</label>
          <select
            id="setting-size"
            value={sizeValue}
            onChange={(event) => {
              const [width, height] = event.currentTarget.value.split('x').map(Number);
              update({ width, height });
            }}
          >
            {(model?.allowedSizes ?? [{ width: settings.width, height: settings.height }]).map((size) => (
              <option key={`${size.width}x${size.height}`} value={`${size.width}x${size.height}`}>
                {size.width} × {size.height}
              </option>
            ))}
          </select>
          <FieldError id="setting-size-error" message={errorFor('width') ?? errorFor('height')} />
        </div>

        <fieldset class="field seed">
          <legend>Seed</legend>
          <div class="seed-modes">
            {SEED_MODES.map(({ mode, label }) => (
              <label key={mode}>
                <input
                  type="radio"
                  name="seed-mode"
                  value={mode}
                  checked={settings.seedMode === mode}
                  disabled={mode === 'last' && lastSeed === undefined}
                  onChange={() => update({ seedMode: mode })}
                />
                {label}
                {mode === 'last' && lastSeed !== undefined ? ` (${lastSeed})` : ''}
              </label>
            ))}
          </div>
          {settings.seedMode === 'fixed' && (
            <input
              type="number"
              aria-label="Seed value"
              min={SEED_RANGE.min}
              max={SEED_RANGE.max}
              step={1}
              value={settings.seed}
              onInput={(event) => {
                const number = event.currentTarget.valueAsNumber;
                if (Number.isFinite(number)) update({ seed: number });
              }}
            />
          )}
          <FieldError id="setting-seed-error" message={errorFor('seed')} />
        </fieldset>
      </div>
      {negativePrompt}
    </details>
  );
}
