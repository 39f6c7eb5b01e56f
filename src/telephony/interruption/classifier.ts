/**
 * The soft-ack classifier: what a caller's words mean while the agent is speaking. Pure and
 * synchronous (no session, no timers), so it is tested case by case and reused by the policy.
 *
 *   ignore     – backchannels ("uh huh", "yeah yeah"), fillers, no words at all, or the agent's
 *                own words coming back (echo): the agent keeps talking, no user turn.
 *   interrupt  – a command anywhere ("yeah but wait"), or substantive speech: stop at once.
 *   undecided  – an interim that may still turn out either way ("i…" → "i see" or "i need…",
 *                a single word the agent just said): hold it, the next transcript decides.
 */
import { defaultBackchannels, defaultCommands, defaultFillers } from './lexicon.js';

export type Decision = 'ignore' | 'interrupt' | 'undecided';
export type Reason =
  | 'no-words'
  | 'low-confidence'
  | 'backchannel'
  | 'echo'
  | 'command'
  | 'speech'
  | 'partial';

export interface Classification {
  decision: Decision;
  reason: Reason;
  /** Normalised tokens of the utterance. */
  tokens: string[];
  /** The command phrase found, for logs. */
  command?: string;
}

export interface LexiconOptions {
  backchannels: readonly string[];
  commands: readonly string[];
  fillers: readonly string[];
}

export interface EchoOptions {
  /** Fewest words of an utterance matched against the agent's text to call it echo. */
  minWords: number;
  /** Share of the utterance's words that must match the agent's text in order. */
  minMatchRatio: number;
}

export const defaultLexicon = {
  backchannels: defaultBackchannels,
  commands: defaultCommands,
  fillers: defaultFillers,
} as const satisfies LexiconOptions;

export const defaultEchoOptions = {
  minWords: 2,
  minMatchRatio: 0.75,
} as const satisfies EchoOptions;

/** Lower case, punctuation off, hyphens as spaces, phone-STT spellings folded. */
export function normalize(text: string): string[] {
  const cleaned = text
    .toLowerCase()
    .replace(/[\u2018\u2019`]/g, "'")
    .replace(/\./g, '') // "o.k." → "ok"; "works. your" → "works your"
    .replace(/[-_/]+/g, ' ')
    .replace(/[^\p{L}\p{N}' ]+/gu, ' ')
    .replace(/'(?!\p{L})|(?<!\p{L})'/gu, ' ');
  const out: string[] = [];
  for (const raw of cleaned.split(/\s+/)) {
    if (!raw) continue;
    out.push(...fold(raw));
  }
  return out;
}

/** Spelling variants a phone STT produces for the same sound, folded to one form. */
function fold(token: string): string[] {
  if (/^u+h+h?u+h+$/.test(token) || /^uh+huh+$/.test(token)) return ['uh', 'huh']; // uhhuh
  if (/^(m+h+m+|u+m+h+u+m+|m+hm+)$/.test(token)) return ['mhm']; // mhm, mmhmm, umhum
  if (/^m{2,}$/.test(token)) return ['mm'];
  if (/^h+m+$/.test(token)) return ['hmm'];
  if (/^(y+e+a+h*|y+e+h+|y+a+h+|y+e+a+)$/.test(token)) return ['yeah'];
  if (/^y+[eu]+p+$/.test(token)) return ['yep']; // yep, yup
  if (/^(o+k+a*y*|o+k+e+y+|o+k+i+e+|k+a+y+)$/.test(token)) return ['okay'];
  if (/^al+right$/.test(token)) return ['alright'];
  if (/^u+h+$/.test(token)) return ['uh'];
  if (/^u+m+$/.test(token)) return ['um'];
  if (/^a+h+$/.test(token)) return ['ah'];
  if (/^o+h+$/.test(token)) return ['oh'];
  if (/^h+u+h+$/.test(token)) return ['huh'];
  if (/^y+e+s+$/.test(token)) return ['yes'];
  if (/^n+o+$/.test(token)) return ['no'];
  // Drawn-out words ("riiight", "okaaay", "sooo"): squeeze letters repeated 3+ times.
  if (/(\p{L})\1\1/u.test(token)) return fold(token.replace(/(\p{L})\1{2,}/gu, '$1'));
  return [token];
}

type Kind = 'backchannel' | 'command' | 'filler';
interface Phrase {
  tokens: string[];
  kind: Kind;
}

/** A lexicon compiled for longest-match parsing. */
export class CompiledLexicon {
  private readonly byFirst = new Map<string, Phrase[]>();
  /** Every proper prefix (joined) of a backchannel phrase, for "still undecided". */
  private readonly backchannelPrefixes = new Set<string>();

  constructor(lex: LexiconOptions) {
    // Order matters for equal-length phrases: commands win over backchannels over fillers.
    const add = (list: readonly string[], kind: Kind) => {
      for (const entry of list) {
        const tokens = normalize(entry);
        if (tokens.length === 0) continue;
        const first = tokens[0]!;
        const bucket = this.byFirst.get(first) ?? [];
        bucket.push({ tokens, kind });
        this.byFirst.set(first, bucket);
        if (kind === 'backchannel') {
          for (let i = 1; i < tokens.length; i++)
            this.backchannelPrefixes.add(tokens.slice(0, i).join(' '));
        }
      }
    };
    add(lex.commands, 'command');
    add(lex.backchannels, 'backchannel');
    add(lex.fillers, 'filler');
    for (const bucket of this.byFirst.values()) {
      // stable: longer first; on ties the earlier (command) entry stays first
      bucket.sort((a, b) => b.tokens.length - a.tokens.length);
    }
  }

  /** Longest phrase starting at `i`, if any. */
  matchAt(tokens: readonly string[], i: number): Phrase | undefined {
    const bucket = this.byFirst.get(tokens[i]!);
    if (!bucket) return undefined;
    return bucket.find((p) => p.tokens.every((t, k) => tokens[i + k] === t));
  }

  isBackchannelPrefix(tokens: readonly string[]): boolean {
    return this.backchannelPrefixes.has(tokens.join(' '));
  }
}

export interface ClassifyContext {
  /** True for a final transcript: no more words will come for this utterance. */
  final: boolean;
  /** Normalised tokens of what the agent is saying / just said (for echo), newest last. */
  agentTokens?: readonly string[];
  /** The STT's confidence in this transcript (0–1; absent = sure). */
  confidence?: number;
  /** Below this confidence the words count as none (coughs, line noise). Default 0 (off). */
  minConfidence?: number;
}

/**
 * Classifies an utterance heard while the agent speaks. `text` is the whole utterance so far
 * (interim transcripts are cumulative).
 */
export function classify(
  text: string,
  lexicon: CompiledLexicon,
  ctx: ClassifyContext,
  echo: EchoOptions = defaultEchoOptions,
): Classification {
  const tokens = normalize(text);
  if (tokens.length === 0) return { decision: 'ignore', reason: 'no-words', tokens };
  // An STT unsure of its words over the agent's voice heard noise, not a caller taking the floor.
  if (ctx.confidence !== undefined && ctx.confidence < (ctx.minConfidence ?? 0)) {
    return { decision: 'ignore', reason: 'low-confidence', tokens };
  }
  const agent = ctx.agentTokens ?? [];

  // The agent's own words on the line: ignore even if they contain a command word.
  if (tokens.length >= echo.minWords && isEcho(tokens, agent, echo.minMatchRatio)) {
    return { decision: 'ignore', reason: 'echo', tokens };
  }

  let rest: string[] = [];
  let command: string | undefined;
  let hesitated = false;
  for (let i = 0; i < tokens.length; ) {
    const phrase = lexicon.matchAt(tokens, i);
    if (phrase?.kind === 'command' && command === undefined) command = phrase.tokens.join(' ');
    if (phrase?.kind === 'filler' && rest.length === 0) hesitated = true;
    if (phrase) {
      i += phrase.tokens.length;
      continue;
    }
    // Unknown word: the rest of the utterance is not (only) backchannel.
    rest = tokens.slice(i);
    break;
  }

  const echoSuspect = tokens.length === 1 && agent.includes(tokens[0]!);
  if (command !== undefined) {
    // One word the agent just said may be echo: let the next transcript show more words.
    if (echoSuspect && !ctx.final)
      return { decision: 'undecided', reason: 'echo', tokens, command };
    return { decision: 'interrupt', reason: 'command', tokens, command };
  }
  if (rest.length === 0) return { decision: 'ignore', reason: 'backchannel', tokens };
  // A hesitation, then the start of more words ("um, I ..."): the caller is taking the floor.
  // Only a whole backchannel after it ("uh, yeah") stays a backchannel.
  if (!ctx.final && lexicon.isBackchannelPrefix(rest) && !hesitated) {
    return { decision: 'undecided', reason: 'partial', tokens };
  }
  if (echoSuspect) {
    return ctx.final
      ? { decision: 'ignore', reason: 'echo', tokens }
      : { decision: 'undecided', reason: 'echo', tokens };
  }
  return { decision: 'interrupt', reason: 'speech', tokens };
}

/**
 * True when `utterance` appears, in order and mostly intact, in the agent's recent words:
 * some window of the agent's text shares ≥ `minRatio` of the utterance's words in sequence
 * (longest common subsequence), tolerating an STT's misheard or dropped words.
 */
export function isEcho(
  utterance: readonly string[],
  agent: readonly string[],
  minRatio: number,
): boolean {
  const n = utterance.length;
  if (n === 0 || agent.length === 0) return false;
  const need = Math.max(1, Math.ceil(n * minRatio));
  const width = n + 2; // allow a couple of inserted words on the agent's side
  for (let start = 0; start < agent.length; start++) {
    if (!utterance.includes(agent[start]!)) continue; // windows start on a shared word
    const window = agent.slice(start, start + width);
    if (lcs(utterance, window) >= need) return true;
  }
  return false;
}

function lcs(a: readonly string[], b: readonly string[]): number {
  const prev = new Array<number>(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    let diag = 0;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = a[i - 1] === b[j - 1] ? diag + 1 : Math.max(up, prev[j - 1]!);
      diag = up;
    }
  }
  return prev[b.length]!;
}
