import { useState } from 'preact/hooks';
import { FAMILY_LABELS } from '../format.js';
import type { Model } from '../operations.js';

const TIERS = [
  { tier: 'EASY', label: 'Easy', blurb: 'Good pictures from plain sentences.' },
  { tier: 'ADVANCED', label: 'Advanced', blurb: 'Rewards prompt craft: tags, weights, presets.' },
] as const;

/** Easy and Advanced tabs; each model with its base, prompt style and whether it can run here. */
export function ModelPicker({ models, selected, onSelect }: { models: Model[]; selected?: Model; onSelect: (model: Model) => void }) {
  const [tier, setTier] = useState<'EASY' | 'ADVANCED'>(selected?.tier ?? 'EASY');
  const shown = models.filter((model) => model.tier === tier);
  return (
    <fieldset class="models">
      <legend>Model</legend>
      <div role="tablist" aria-label="Model tier" class="tabs">
        {TIERS.map(({ tier: value, label }) => (
          <button
            type="button"
            role="tab"
            id={`tier-${value}`}
            aria-selected={tier === value}
            aria-controls="model-list"
            onClick={() => setTier(value)}
            onKeyDown={(event) => {
              if (event.key === 'ArrowRight' || event.key === 'ArrowLeft') {
                const next = tier === 'EASY' ? 'ADVANCED' : 'EASY';
                setTier(next);
                document.getElementById(`tier-${next}`)?.focus();
              }
            }}
            tabIndex={tier === value ? 0 : -1}
          >
            {label}
          </button>
        ))}
      </div>
      <div role="tabpanel" id="model-list" aria-labelledby={`tier-${tier}`} class="model-list">
        <p class="hint">{TIERS.find((entry) => entry.tier === tier)!.blurb}</p>
        {shown.map((model) => (
          <label class={`model ${model.installed ? '' : 'missing'}`} key={model.id}>
            <input type="radio" name="model" value={model.id} checked={selected?.id === model.id} disabled={!model.installed} onChange={() => onSelect(model)} />
            <span class="model-name">{model.name}</span>
            <span class="badges">
              <span class="badge">{FAMILY_LABELS[model.family] ?? model.family}</span>
              <span class="badge">{model.promptStyle === 'TAGS' ? 'Tag prompts' : 'Plain-language prompts'}</span>
              <span class={`badge ${model.installed ? 'ok' : 'warn'}`}>{model.installed ? 'Installed' : 'Not installed'}</span>
            </span>
            {!model.installed && (
              <span class="how-to">
                Fetch it with <code>npm run models:fetch -- {model.source ?? `<an ONNX export of ${model.name}>`}</code>
                {!model.source && <> into <code>MODELS_DIR/{model.path}</code></>}, then restart Easel.
              </span>
            )}
          </label>
        ))}
        {shown.length === 0 && <p class="hint">No {tier === 'EASY' ? 'easy' : 'advanced'} models in the catalog.</p>}
      </div>
    </fieldset>
  );
}
