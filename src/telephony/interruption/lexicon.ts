/**
 * Default word lists of the soft-ack filter: English backchannels (listener responses that do
 * not claim the floor), hesitation fillers, and interruption commands. They are general
 * linguistic lists (continuers, acknowledgements, assessments; stop/hold/repair requests), not
 * the evaluation corpus's words. All are overridable by settings and per agent.
 *
 * Entries are written normalised (see `normalize`): lower case, no punctuation, hyphens as
 * spaces. Phone-STT spellings ("uhhuh", "mhm", "mm hmm", "yup") are folded by `normalize`
 * and the nasal/uh-huh patterns in classifier.ts, so each backchannel is listed once.
 */

/** Backchannels: on their own (or in a run, "yeah yeah", "uh huh right") they never interrupt. */
export const defaultBackchannels = [
  // continuers
  'uh huh',
  'mm hmm',
  'mhm',
  'hmm',
  'mm',
  'go on',
  'keep going',
  // acknowledgements
  'yeah',
  'yes',
  'yep',
  'yup',
  'ya',
  'okay',
  'ok',
  'k',
  'right',
  'alright',
  'all right',
  'sure',
  'sure sure',
  'sure thing',
  'got it',
  'gotcha',
  'i see',
  'i know',
  'i understand',
  'understood',
  'makes sense',
  'that makes sense',
  'fair enough',
  'noted',
  // change-of-state tokens
  'oh',
  'ah',
  'aha',
  'oh okay',
  'oh i see',
  'oh right',
  // assessments
  'cool',
  'great',
  'good',
  'fine',
  'nice',
  'perfect',
  'awesome',
  'wow',
  'true',
  'exactly',
  'totally',
  'absolutely',
  'definitely',
  'of course',
  'for sure',
  'sounds good',
  'that sounds good',
  'thanks',
  'thank you',
] as const;

/** Hesitation sounds: carry no content; alone they never interrupt or make a turn. */
export const defaultFillers = ['uh', 'um', 'umm', 'er', 'erm', 'eh', 'hm'] as const;

/**
 * Commands: anywhere in an utterance, even after backchannels ("yeah but wait"), they take the
 * floor at once. Words that open an objection or a repair ("but", "actually", "sorry", "what")
 * count: with them the caller is no longer just listening.
 */
export const defaultCommands = [
  'stop',
  'wait',
  'hold on',
  'hang on',
  'hold up',
  'pause',
  'no',
  'nope',
  'nah',
  'but',
  'actually',
  'sorry',
  'pardon',
  'excuse me',
  'what',
  'huh',
  'repeat',
  'again',
  'one second',
  'one sec',
  'one moment',
  'just a second',
  'just a moment',
  'never mind',
  'nevermind',
  'slow down',
  'hello',
  'hey',
  'listen',
  'question',
  'operator',
  'agent',
  'representative',
  'human',
  'person',
] as const;
