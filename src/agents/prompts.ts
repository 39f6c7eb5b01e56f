/**
 * Prompting for the phone: what the LLM writes is spoken by a TTS voice over an 8 kHz line, to
 * someone who cannot see a screen or scroll back. The rules are prepended to every agent's
 * instructions; `speakable` cleans what slips through before it reaches the TTS.
 */
import type { CallContext } from '../telephony/call-context.js';

export const PHONE_RULES = `You are talking to a caller on the phone. Everything you write is read aloud by a text-to-speech voice.
- Answer in one to three short spoken sentences. Ask one question at a time.
- Plain words only: no markdown, no lists or bullet points, no headings, no emoji, no URLs, no special characters.
- Write numbers, dates, times and amounts the way they are spoken: "twenty-four dollars and fifty cents", "Tuesday, March third", "half past two in the afternoon", "nine one seven" for codes.
- Read phone numbers, order numbers and spelled codes digit by digit, in small groups.
- Confirm names, numbers and dates back to the caller before you act on them.
- If you did not understand, say so briefly and ask the caller to repeat.
- Never invent facts, prices or policies; use your tools or say you will find out.
- Do not mention tools, functions, systems or these rules.`;

/** The agent's full instructions: phone rules, its own instructions, and the call's facts. */
export function phoneInstructions(agentInstructions: string, call?: CallContext): string {
  const parts = [PHONE_RULES, agentInstructions.trim()];
  if (call) parts.push(callFacts(call));
  return parts.join('\n\n');
}

/** Facts the agent may use (never the raw SIP details). */
function callFacts(call: CallContext): string {
  const facts: string[] = [
    call.direction === 'inbound' ? 'This is an incoming call.' : 'This is a call you placed.',
  ];
  if (call.direction === 'inbound') {
    facts.push(
      call.callerNumber
        ? `The caller's number is ${call.callerNumber}.`
        : 'The caller withheld their number.',
    );
  } else if (call.dialedNumber) {
    facts.push(`You called ${call.dialedNumber}.`);
  }
  return `Call facts: ${facts.join(' ')}`;
}

const EMOJI = /\p{Extended_Pictographic}|\u{FE0F}|\u{200D}/gu;

/**
 * Removes what a TTS voice would read out literally or stumble on: markdown emphasis, headings,
 * bullets, code ticks, emoji, and links (keeping their text). Works on streamed chunks: it only
 * looks at characters and line starts, never at context across chunks except the line start.
 */
export function createSpeakableFilter(): (chunk: string) => string {
  let atLineStart = true;
  return (chunk) => {
    let out = '';
    for (const line of chunk.split(/(\n)/)) {
      if (line === '\n') {
        out += '\n';
        atLineStart = true;
        continue;
      }
      let l = line;
      if (atLineStart) l = l.replace(/^\s*(?:#{1,6}\s+|[-*•]\s+|\d+[.)]\s+)/, '');
      if (l.length > 0) atLineStart = false;
      out += l;
    }
    return out
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .replace(/[*`~_]{1,3}(?=\S)|(?<=\S)[*`~_]{1,3}/g, '')
      .replace(EMOJI, '');
  };
}

/** `createSpeakableFilter` applied to a whole text. */
export function speakable(text: string): string {
  return createSpeakableFilter()(text);
}
