/** Settings of the telephony layer (src/telephony): audio, interruptions, DTMF, transfers. */
import { int, list, num, oneOf, str } from '../core/settings-schema.js';
import { defaultSoftAckOptions, interruptionPolicies } from './interruption/options.js';
import { noiseSuppressionModes } from './noise/suppressor.js';

const softAck = defaultSoftAckOptions;

export const telephonySettings = {
  // ── interruptions (src/telephony/interruption; defaults measured: docs/interruptions.md) ──
  INTERRUPTION_POLICY: oneOf(interruptionPolicies, {
    doc: 'How caller sound over the agent is handled: softack (ours), or a baseline for comparison',
    default: softAck.policy,
  }),
  SOFT_ACKS: list({
    doc: 'Backchannels ignored while the agent speaks (comma-separated words or phrases)',
    default: [...softAck.lexicon.backchannels],
  }),
  INTERRUPT_COMMANDS: list({
    doc: 'Words/phrases that interrupt the agent at once, anywhere in what the caller says',
    default: [...softAck.lexicon.commands],
  }),
  SOFT_ACK_FILLERS: list({
    doc: 'Hesitation sounds ("uh", "um") that neither interrupt nor make a turn on their own',
    default: [...softAck.lexicon.fillers],
  }),
  INTERRUPT_ECHO_MIN_WORDS: int({
    doc: "Fewest words matching the agent's own recent speech to treat a transcript as echo",
    default: softAck.echo.minWords,
    min: 1,
  }),
  INTERRUPT_ECHO_MATCH_RATIO: num({
    doc: "Share of a transcript's words that must match the agent's recent speech (in order) to be echo",
    default: softAck.echo.minMatchRatio,
    min: 0.3,
    max: 1,
  }),
  INTERRUPT_ECHO_TAIL_MS: int({
    doc: 'How long (ms) after the agent stops its words still count as echo',
    default: softAck.echoTailMs,
    min: 0,
  }),
  INTERRUPT_ONSET_GRACE_MS: int({
    doc: 'Caller voice detected this long (ms) after the agent stopped still counts as said over it',
    default: softAck.onsetGraceMs,
    min: 0,
  }),
  INTERRUPT_MIN_CONFIDENCE: num({
    doc: 'Over the agent, words the STT is less sure of than this (0-1) count as no words: STTs hear low-confidence words in coughs and line noise (docs/interruptions.md)',
    default: softAck.minConfidence,
    min: 0,
    max: 1,
  }),
  INTERRUPT_MIN_SPEECH_MS: int({
    doc: 'Caller speech (ms, VAD) before the framework may act on words the filter let through',
    default: softAck.minInterruptionMs,
    min: 0,
  }),
  // ── caller audio ──
  CALLER_FRAME_MS: int({
    doc: "Length of the caller's audio frames the session's VAD and STT read (ms). 40 is two RTP packets: every frame costs pipeline CPU, so 40 costs ~25 % less per call than 20 for at most 20 ms more latency, with the same interruption results (npm run bench:calls, eval:interruptions)",
    default: 40,
    min: 10,
    max: 100,
  }),
  // ── noise suppression (src/telephony/noise; figures: npm run bench:noise) ──
  NOISE_SUPPRESSION: oneOf(noiseSuppressionModes, {
    doc: "Caller line-noise suppression before VAD/STT: speex (cheap, default), rnnoise, off, or livekit-cloud (LiveKit Cloud's telephony filter; needs @livekit/noise-cancellation-node installed)",
    default: 'speex',
  }),
  NOISE_SUPPRESSION_MAX_DB: int({
    doc: 'speex: maximum attenuation of noise in dB',
    default: 40,
    min: 1,
    max: 60,
  }),
  // ── transfers, DTMF, voicemail, ending calls (docs/transfers.md) ──
  TRANSFER_RING_TIMEOUT_S: int({
    doc: 'How long a transfer destination may ring (cold REFER and warm-transfer dial) before it counts as no answer',
    default: 20,
    min: 5,
    max: 120,
  }),
  WARM_TRANSFER_DECISION_TIMEOUT_S: int({
    doc: 'Warm transfer: how long the human has, after the briefing, to accept (speech or key 1) or decline',
    default: 30,
    min: 5,
    max: 300,
  }),
  WARM_TRANSFER_HOLD_AUDIO: str({
    doc: 'Warm transfer: WAV file (mono PCM16) the caller hears on hold, looped; default a soft generated chime',
  }),
  DTMF_INTER_DIGIT_TIMEOUT_S: int({
    doc: 'Digit collection (account numbers, PINs) ends when no key is pressed for this long; "#" ends it at once',
    default: 5,
    min: 1,
    max: 60,
  }),
  AMD_MODE: oneOf(['off', 'hangup', 'message'] as const, {
    doc: 'Outbound calls answered by voicemail: hang up, leave VOICEMAIL_MESSAGE after the beep, or no detection (off)',
    default: 'hangup',
  }),
  VOICEMAIL_MESSAGE: str({
    doc: 'Message left after the beep when AMD_MODE=message (an agent or the outbound request may set its own)',
  }),
  VOICEMAIL_BEEP_TIMEOUT_S: int({
    doc: 'After a voicemail greeting, how long to wait for the beep before speaking anyway',
    default: 4,
    min: 0,
    max: 30,
  }),
  SILENCE_TIMEOUT_S: int({
    doc: 'Caller silent this long: the agent asks "are you still there?", then says goodbye and hangs up after as long again (0 = off)',
    default: 20,
    min: 0,
    max: 600,
  }),
} as const;
