/**
 * Prompt editing and alternation, read the way A1111's `get_learned_conditioning_prompt_schedules`
 * (modules/prompt_parser.py, 1.10) reads them:
 *
 *   [from:to:when]   `from` until step `when`, then `to`      [to:when]   nothing, then `to`
 *   [from::when]     `from`, then nothing                     [a|b|c]     a, b, c, a, ... one per step
 *
 * `when` with a decimal point is a fraction of the steps (0.25), without one a step number (5).
 * With a hires pass, numbers past the first pass address the second: 1.5 is its middle, and a
 * step number counts on from the first pass's steps. Forms nest: `[a:[b:c:0.5]:0.2]`, `[x|(y:1.2)]`.
 *
 * A1111 reads the prompt with a grammar (a Lark parser): brackets that do not form one of these
 * forms stay text, `(…)`, `(…:…)` and `[…]` are kept as written (attention is read later, from
 * each step's text), and a prompt the grammar cannot read at all (a `|` outside any `[…]`, a
 * backslash at the very end) is used as written for every step. This is a hand-written
 * recursive-descent reader of that grammar: the form at an opening bracket, when it reads one,
 * is preferred to reading the bracket as text.
 */

export interface PromptScheduleEntry {
  /** The text applies up to and including this step (A1111's `end_at_step`). */
  untilStep: number;
  /** The prompt text for those steps, attention syntax untouched. */
  prompt: string;
}

export interface ScheduleOptions {
  /** The hires pass's steps: the schedule is for that pass, whose numbering follows the first pass's `steps`. */
  hiresSteps?: number;
}

/** Where a form or one of its branches is written: [start, end). */
export interface Span {
  start: number;
  end: number;
}

/** A branch of an edit or alternation: its nodes and where they are written. */
interface Branch extends Span {
  nodes: Node[];
}

type Node =
  | { kind: 'text'; text: string }
  /** `(…)`, `(…:…)`, `[…]`: written back as they are, with their insides scheduled. */
  | { kind: 'group'; open: string; parts: Node[][]; close: string }
  | ({ kind: 'edit'; before: Branch | null; after: Branch; when: string } & Span)
  | ({ kind: 'alternate'; options: Branch[] } & Span);

/** A1111's SIGNED_NUMBER (Lark's common grammar), with the whitespace the rule allows around it. */
const WHEN = /\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*\]/y;
/** `plain`: anything but `\ [ ] ( ) : |`, or a backslash and the character after it (not a newline). */
const PLAIN = /(?:[^\\[\]():|]|\\.)+/y;
const STRAY = /[[\]():]+/y;

/**
 * Deeper forms are read as text. A1111's own transformer recurses per level and stops with an
 * error near 1,000; this keeps the reader's recursion well inside Node's stack.
 */
const MAX_DEPTH = 200;

class Reader {
  pos = 0;
  private depth = 0;
  /**
   * What the form at a bracket reads to, and where it ends. A form's reading depends only on
   * where it starts, so each bracket is read once, which keeps the reader linear in the prompt.
   */
  private readonly forms = new Map<number, { node: Node | null; end: number }>();
  constructor(readonly source: string) {}

  /** The whole prompt (`start`), or null where A1111's grammar fails and the text is used as is. */
  readStart(): Node[] | null {
    const nodes: Node[] = [];
    while (this.pos < this.source.length) {
      const before = this.pos;
      const element = this.readElement();
      if (element) {
        nodes.push(element);
        continue;
      }
      this.pos = before;
      // An opening bracket that starts no form, or a closing one or colon out of place, is text.
      STRAY.lastIndex = this.pos;
      const stray = STRAY.exec(this.source);
      if (!stray) return null; // a `|` outside brackets or a lone backslash at the end
      nodes.push({ kind: 'text', text: stray[0][0] });
      this.pos += 1;
    }
    return nodes;
  }

  /** `prompt`: elements up to a `:`, `|`, `)`, `]` or the end; null when a bracket inside forms nothing. */
  private readPrompt(): Node[] | null {
    const nodes: Node[] = [];
    while (this.pos < this.source.length && !':|)]'.includes(this.source[this.pos])) {
      const element = this.readElement();
      if (!element) return null;
      nodes.push(element);
    }
    return nodes;
  }

  private readElement(): Node | null {
    const char = this.source[this.pos];
    if (char === '(' || char === '[') return this.readForm(char);
    PLAIN.lastIndex = this.pos;
    const plain = PLAIN.exec(this.source);
    if (!plain) return null;
    this.pos += plain[0].length;
    return { kind: 'text', text: plain[0] };
  }

  private readForm(bracket: '(' | '['): Node | null {
    const start = this.pos;
    let form = this.forms.get(start);
    if (!form) {
      this.depth += 1;
      const node = this.depth > MAX_DEPTH ? null : bracket === '(' ? this.readRound() : this.readSquare();
      this.depth -= 1;
      form = { node, end: this.pos };
      this.forms.set(start, form);
    }
    this.pos = form.end;
    return form.node;
  }

  /** `(prompt)` or `(prompt:prompt)`. */
  private readRound(): Node | null {
    this.pos += 1;
    const first = this.readPrompt();
    if (!first) return null;
    if (this.eat(')')) return { kind: 'group', open: '(', parts: [first], close: ')' };
    if (!this.eat(':')) return null;
    const second = this.readPrompt();
    if (!second || !this.eat(')')) return null;
    return { kind: 'group', open: '(', parts: [first, [{ kind: 'text', text: ':' }], second], close: ')' };
  }

  /** `[prompt]`, `[prompt|prompt…]`, `[prompt:when]` or `[prompt:prompt:when]`. */
  private readSquare(): Node | null {
    const start = this.pos;
    this.pos += 1;
    const first = this.readBranch();
    if (!first) return null;
    if (this.eat(']')) return { kind: 'group', open: '[', parts: [first.nodes], close: ']' };
    if (this.source[this.pos] === '|') {
      const options = [first];
      while (this.eat('|')) {
        const option = this.readBranch();
        if (!option) return null;
        options.push(option);
      }
      return this.eat(']') ? { kind: 'alternate', options, start, end: this.pos } : null;
    }
    if (!this.eat(':')) return null;
    const whenOnly = this.readWhen();
    if (whenOnly !== null) return { kind: 'edit', before: null, after: first, when: whenOnly, start, end: this.pos };
    const second = this.readBranch();
    if (!second || !this.eat(':')) return null;
    const when = this.readWhen();
    return when === null ? null : { kind: 'edit', before: first, after: second, when, start, end: this.pos };
  }

  private readBranch(): Branch | null {
    const start = this.pos;
    const nodes = this.readPrompt();
    return nodes && { nodes, start, end: this.pos };
  }

  private readWhen(): string | null {
    WHEN.lastIndex = this.pos;
    const match = WHEN.exec(this.source);
    if (!match) return null;
    this.pos += match[0].length;
    return match[1];
  }

  private eat(char: string): boolean {
    if (this.source[this.pos] !== char) return false;
    this.pos += 1;
    return true;
  }
}

/**
 * The prompt's text at each step where it changes, as A1111's
 * `get_learned_conditioning_prompt_schedules([prompt], steps, hiresSteps)[0]` gives it. The last
 * entry always runs to `steps` (or `hiresSteps`).
 */
export function promptSchedule(prompt: string, steps: number, { hiresSteps }: ScheduleOptions = {}): PromptScheduleEntry[] {
  const total = hiresSteps ?? steps;
  const tree = new Reader(prompt).readStart();
  if (!tree) return [{ untilStep: total, prompt }];

  const offsets = hiresSteps === undefined ? { step: 0, fraction: 0 } : { step: steps, fraction: 1 };
  const whenStep = (when: string) => {
    const value = Number(when);
    const step = when.includes('.') ? (value - offsets.fraction) * total : value - offsets.step;
    return Math.min(total, Math.trunc(step));
  };

  const boundaries = new Set([total]);
  const collect = (nodes: Node[]) => {
    for (const node of nodes) {
      if (node.kind === 'group') node.parts.forEach(collect);
      else if (node.kind === 'alternate') {
        for (let step = 1; step <= total; step++) boundaries.add(step);
        node.options.forEach((option) => collect(option.nodes));
      } else if (node.kind === 'edit') {
        const step = whenStep(node.when);
        if (step >= 1) boundaries.add(step);
        if (node.before) collect(node.before.nodes);
        collect(node.after.nodes);
      }
    }
  };
  collect(tree);

  const textAt = (nodes: Node[], step: number): string =>
    nodes
      .map((node) => {
        switch (node.kind) {
          case 'text':
            return node.text;
          case 'group':
            return node.open + node.parts.map((part) => textAt(part, step)).join('') + node.close;
          case 'alternate':
            return textAt(node.options[(step - 1) % node.options.length].nodes, step);
          case 'edit':
            return step <= whenStep(node.when) ? textAt(node.before?.nodes ?? [], step) : textAt(node.after.nodes, step);
        }
      })
      .join('');

  return [...boundaries].sort((a, b) => a - b).map((untilStep) => ({ untilStep, prompt: textAt(tree, untilStep) }));
}

/**
 * The entry in force at a model call, counted from 0 as A1111's CFGDenoiser counts them: the first
 * whose `untilStep` is not below it, or the first entry when the count is past them all.
 */
export function scheduledAt<T extends { untilStep: number }>(schedule: readonly T[], call: number): T {
  return schedule.find((entry) => call <= entry.untilStep) ?? schedule[0];
}

/**
 * The prompt with every edit and alternation reduced to one of its branches, written where it
 * stands: the brackets, separators, `when` and the other branches become spaces, so each offset
 * still points at the same character. `first` takes the first branch (an edit's `from`, which may
 * be nothing), `last` the last (an edit's `to`). The linter reads these, so that the syntax is
 * not mistaken for text. A prompt the grammar cannot read comes back as it is.
 */
export function promptVariant(prompt: string, branch: 'first' | 'last'): { text: string; blanked: Span[] } {
  const tree = new Reader(prompt).readStart();
  const chars = prompt.split(''); // UTF-16 units, as offsets count
  const blanked: Span[] = [];
  const blank = (start: number, end: number) => {
    if (end <= start) return;
    for (let i = start; i < end; i++) if (!/\s/.test(chars[i])) chars[i] = ' ';
    blanked.push({ start, end });
  };
  const visit = (nodes: Node[]) => {
    for (const node of nodes) {
      if (node.kind === 'group') node.parts.forEach(visit);
      if (node.kind !== 'edit' && node.kind !== 'alternate') continue;
      const branches = node.kind === 'edit' ? [node.before, node.after] : node.options;
      const kept = branch === 'first' ? branches[0] : branches.at(-1)!;
      if (!kept) {
        blank(node.start, node.end);
        continue;
      }
      blank(node.start, kept.start);
      blank(kept.end, node.end);
      visit(kept.nodes);
    }
  };
  if (tree) visit(tree);
  return { text: chars.join(''), blanked };
}
