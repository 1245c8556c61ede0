import type { ComponentChildren } from 'preact';
import { useRef } from 'preact/hooks';
import type { AnalyzedPrompt, PromptWarning } from '../operations.js';

interface Props {
  id: string;
  label: string;
  value: string;
  onChange: (value: string) => void;
  analysis?: AnalyzedPrompt | null;
  /** The API's message for this field, from a refused generation. */
  error?: string;
  rows?: number;
  children?: ComponentChildren;
}

/** Warnings with a place in the text, in order, none overlapping the one before. */
function placed(warnings: readonly PromptWarning[]): (PromptWarning & { start: number; end: number })[] {
  const result: (PromptWarning & { start: number; end: number })[] = [];
  for (const warning of warnings) {
    if (warning.start === null || warning.end === null || warning.end <= warning.start) continue;
    if (result.length && warning.start < result[result.length - 1].end) continue;
    result.push(warning as PromptWarning & { start: number; end: number });
  }
  return result;
}

/** The text with each warning's span marked, drawn behind the transparent textarea. */
function Marks({ text, warnings }: { text: string; warnings: readonly PromptWarning[] }) {
  const parts: ComponentChildren[] = [];
  let at = 0;
  for (const warning of placed(warnings)) {
    parts.push(text.slice(at, warning.start));
    parts.push(<mark title={warning.message}>{text.slice(warning.start, warning.end)}</mark>);
    at = warning.end;
  }
  parts.push(text.slice(at) + '\n');
  return <>{parts}</>;
}

/**
 * A prompt textarea with its live analysis: tokens per 75-token chunk ("23/75"), each lint
 * warning marked in place, and a one-click fix where the warning has a single replacement.
 */
export function PromptBox({ id, label, value, onChange, analysis, error, rows = 4, children }: Props) {
  const mirror = useRef<HTMLDivElement>(null);
  const warnings = analysis?.warnings ?? [];
  const counterId = `${id}-count`;
  const fix = (warning: PromptWarning) => {
    if (warning.start === null || warning.end === null || warning.replacement === null) return;
    onChange(value.slice(0, warning.start) + warning.replacement + value.slice(warning.end));
  };
  return (
    <div class="prompt-box">
      <div class="label-row">
        <label for={id}>{label}</label>
        {analysis && (
          <span
            id={counterId}
            class={`counter ${analysis.chunks > 1 ? 'over' : ''}`}
            title={analysis.tokenCountSource === 'ESTIMATE' ? 'Estimated: the model’s tokenizer is not installed' : 'Counted with the model’s tokenizer'}
          >
            {analysis.tokenCountSource === 'ESTIMATE' ? '≈' : ''}
            {analysis.tokenCount}/{analysis.tokenLimit}
          </span>
        )}
      </div>
      <div class="editor">
        <div class="mirror" aria-hidden="true" ref={mirror}>
          <Marks text={value} warnings={warnings} />
        </div>
        <textarea
          id={id}
          rows={rows}
          value={value}
          spellcheck={false}
          aria-describedby={[analysis ? counterId : '', error ? `${id}-error` : ''].filter(Boolean).join(' ') || undefined}
          aria-invalid={error ? true : undefined}
          onInput={(event) => onChange(event.currentTarget.value)}
          onScroll={(event) => {
            if (mirror.current) mirror.current.scrollTop = event.currentTarget.scrollTop;
          }}
        />
      </div>
      {error && (
        <p class="error" id={`${id}-error`} role="alert">
          {error}
        </p>
      )}
      {warnings.length > 0 && (
        <ul class="warnings" aria-label={`${label} warnings`}>
          {warnings.map((warning, index) => (
            <li key={`${warning.code}-${warning.start}-${index}`}>
              <span class="code">{warning.code}</span> {warning.message}
              {warning.suggestion && <span class="suggestion"> {warning.suggestion}</span>}
              {warning.replacement !== null && warning.start !== null && (
                <button type="button" class="fix" onClick={() => fix(warning)}>
                  Fix: {warning.replacement === '' ? `remove “${value.slice(warning.start, warning.end ?? warning.start)}”` : `use “${warning.replacement}”`}
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      {children}
    </div>
  );
}
