import { beforeEach, describe, expect, it } from 'vitest';
import {
  CompiledLexicon,
  classify,
  isEcho,
  normalize,
} from '../src/telephony/interruption/classifier.js';
import {
  defaultSoftAckOptions,
  resolveSoftAckOptions,
} from '../src/telephony/interruption/options.js';

// Built per test (not at import), so mutation testing can tell which tests read the lexicon.
let lexicon: CompiledLexicon;
beforeEach(() => {
  lexicon = new CompiledLexicon(defaultSoftAckOptions.lexicon);
});
const heard = (text: string, final = true, agentText = '') =>
  classify(text, lexicon, { final, agentTokens: normalize(agentText) });

describe('soft-ack classifier: backchannels while the agent speaks', () => {
  it.each([
    'uh-huh',
    'uh huh',
    'uhhuh',
    'Uh-huh.',
    'mhm',
    'mm-hmm',
    'mm hmm',
    'Mmhmm!',
    'yep',
    'yup',
    'yeah',
    'Yeah.',
    'okay',
    'OK',
    'o.k.',
    'right',
    'alright',
    'all right',
    'sure',
    'got it',
    'i see',
    'yeah yeah',
    'okay okay',
    'uh huh right',
    'oh okay',
    'riiight',
    'okaaay',
  ])('"%s" is ignored', (text) => {
    const c = heard(text);
    expect(c.decision).toBe('ignore');
    expect(c.reason).toBe('backchannel');
  });

  it('ignores fillers and sounds with no words', () => {
    expect(heard('um')).toMatchObject({ decision: 'ignore' });
    expect(heard('')).toMatchObject({ decision: 'ignore', reason: 'no-words' });
    expect(heard('...')).toMatchObject({ decision: 'ignore', reason: 'no-words' });
  });
});

describe('soft-ack classifier: commands and real speech interrupt', () => {
  it.each([
    ['stop', 'stop'],
    ['wait', 'wait'],
    ['hold on', 'hold on'],
    ['no', 'no'],
    ['actually', 'actually'],
    ['sorry what', 'sorry'],
    ['yeah but wait', 'but'],
    ['yeah okay but wait', 'but'],
    ['uh huh no', 'no'],
    ['okay, hold on', 'hold on'],
    ['Yeah... WAIT!', 'wait'],
  ])('"%s" interrupts on the command "%s"', (text, command) => {
    const c = heard(text);
    expect(c.decision).toBe('interrupt');
    expect(c.reason).toBe('command');
    expect(c.command).toBe(command);
  });

  it('interrupts on the first interim that shows a command, even after backchannels', () => {
    expect(heard('yeah', false).decision).toBe('ignore');
    expect(heard('yeah but', false)).toMatchObject({ decision: 'interrupt', command: 'but' });
    expect(heard('no', false)).toMatchObject({ decision: 'interrupt', command: 'no' });
  });

  it('interrupts on substantive speech that is not all backchannel', () => {
    expect(heard('can you repeat that')).toMatchObject({ decision: 'interrupt', reason: 'speech' });
    expect(heard('yeah my account number changed')).toMatchObject({
      decision: 'interrupt',
      reason: 'speech',
    });
    expect(heard('i need to talk to a person').decision).toBe('interrupt');
  });

  it('holds an interim that may still become a backchannel, and decides on the next words', () => {
    expect(heard('i', false)).toMatchObject({ decision: 'undecided', reason: 'partial' });
    expect(heard('i see', false).decision).toBe('ignore');
    expect(heard('i need', false).decision).toBe('interrupt');
    expect(heard('got', false).decision).toBe('undecided');
    expect(heard('got it', false).decision).toBe('ignore');
    // a final never stays undecided
    expect(heard('got', true).decision).toBe('interrupt');
  });
});

describe('soft-ack classifier: echo of the agent', () => {
  const agent =
    'Sure, let me walk you through how the plan works. Your base fee covers three hundred minutes, then wait about thirty seconds.';

  it("ignores the agent's own words coming back, even with a misheard word", () => {
    expect(heard('through how the plan works. your', true, agent)).toMatchObject({
      decision: 'ignore',
      reason: 'echo',
    });
    expect(heard('your base fees covers three', true, agent)).toMatchObject({
      decision: 'ignore',
      reason: 'echo',
    });
    expect(heard('wait about thirty', true, agent)).toMatchObject({
      decision: 'ignore',
      reason: 'echo',
    });
  });

  it('holds a single word the agent just said until more words show what it is', () => {
    expect(heard('wait', false, agent).decision).toBe('undecided');
    expect(heard('wait about', false, agent).decision).toBe('ignore');
    expect(heard('wait stop', false, agent)).toMatchObject({
      decision: 'interrupt',
      command: 'wait',
    });
  });

  it('does not take the caller for echo when the words do not follow the agent', () => {
    expect(heard('no stop', true, agent).decision).toBe('interrupt');
    expect(heard('how much is the plan', true, agent).decision).toBe('interrupt');
    expect(heard('stop', false, 'Let me check that for you.').decision).toBe('interrupt');
  });

  it('matches in order with a tolerance', () => {
    const a = normalize('one two three four five six');
    expect(isEcho(normalize('two three four'), a, 0.75)).toBe(true);
    expect(isEcho(normalize('four three two'), a, 0.75)).toBe(false);
    expect(isEcho(normalize('two three nine four'), a, 0.75)).toBe(true);
  });
});

describe('soft-ack options', () => {
  it('takes lexicons from settings and per-agent overrides', () => {
    const o = resolveSoftAckOptions(
      { SOFT_ACKS: ['yeah', 'roger that'], INTERRUPT_COMMANDS: ['stop'] },
      { extraSoftAcks: ['copy'], extraCommands: ['halt'] },
    );
    const lex = new CompiledLexicon(o.lexicon);
    expect(classify('roger that', lex, { final: true }).decision).toBe('ignore');
    expect(classify('copy', lex, { final: true }).decision).toBe('ignore');
    expect(classify('okay', lex, { final: true }).decision).toBe('interrupt'); // not in this list
    expect(classify('yeah halt', lex, { final: true })).toMatchObject({
      decision: 'interrupt',
      command: 'halt',
    });
  });
});

/**
 * The default vocabulary, word by word (the lists as README documents them, written out here so
 * a word dropped from src/telephony/interruption/lexicon.ts fails a test).
 */
describe('soft-ack classifier: the default vocabulary', () => {
  const BACKCHANNELS = [
    'uh huh',
    'mm hmm',
    'mhm',
    'hmm',
    'mm',
    'go on',
    'keep going',
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
    'got you',
    'i got it',
    'i got you',
    'all good',
    'i see',
    'i know',
    'i understand',
    'understood',
    'makes sense',
    'that makes sense',
    'fair enough',
    'noted',
    'correct',
    'that is right',
    "that's right",
    "that's true",
    "that's fine",
    "that's good",
    'i get it',
    'i hear you',
    'roger',
    'roger that',
    'you bet',
    'will do',
    'go ahead',
    'okay dokey',
    'yes sir',
    "yes ma'am",
    'oh',
    'ah',
    'aha',
    'oh okay',
    'oh i see',
    'oh right',
    'really',
    'oh really',
    'interesting',
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
    'indeed',
    'definitely',
    'of course',
    'for sure',
    'sounds good',
    'sounds great',
    'that sounds good',
    'very good',
    'lovely',
    'brilliant',
    'cheers',
    'thanks',
    'thank you',
  ];
  const COMMANDS = [
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
    'come again',
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
  ];
  const FILLERS = ['uh', 'um', 'umm', 'er', 'erm', 'eh', 'hm'];

  it.each(BACKCHANNELS)('"%s" on its own is a backchannel, final or not', (text) => {
    expect(heard(text)).toMatchObject({ decision: 'ignore', reason: 'backchannel' });
    expect(heard(text, false)).toMatchObject({ decision: 'ignore', reason: 'backchannel' });
    // Said twice, or after a filler, it stays one.
    expect(heard(`${text} ${text}`).decision).toBe('ignore');
    expect(heard(`um ${text}`).decision).toBe('ignore');
  });

  it.each(COMMANDS)('"%s" interrupts, on its own or after a backchannel', (text) => {
    const command = normalize(text).join(' ');
    expect(heard(text)).toMatchObject({ decision: 'interrupt', reason: 'command', command });
    expect(heard(`okay ${text}`, false)).toMatchObject({ decision: 'interrupt', command });
  });

  it.each(FILLERS)('"%s" alone neither interrupts nor is a turn', (text) => {
    expect(heard(text)).toMatchObject({ decision: 'ignore', reason: 'backchannel' });
    expect(heard(text, false).decision).toBe('ignore');
  });

  it.each(['er', 'erm', 'eh', 'uh', 'um'])(
    '"%s" then the start of more words takes the floor (a hesitation, not a backchannel)',
    (filler) => {
      expect(heard(`${filler} i`, false)).toMatchObject({
        decision: 'interrupt',
        reason: 'speech',
      });
      expect(heard(`${filler} got`, false)).toMatchObject({
        decision: 'interrupt',
        reason: 'speech',
      });
    },
  );

  it('a word in none of the lists is speech', () => {
    expect(heard('refund')).toMatchObject({ decision: 'interrupt', reason: 'speech' });
    expect(heard('thing')).toMatchObject({ decision: 'interrupt', reason: 'speech' });
  });
});

/**
 * The spelling folds of normalize(), rule by rule: each rule gets variants only it folds (so a
 * rule switched off, an anchor or a `+` lost, shows), and near misses it must leave alone (a
 * letter before or after: the ^ and $ anchors).
 */
describe('soft-ack classifier: phone-STT spellings fold to one form', () => {
  const FOLDS: Array<{ rule: string; to: string[]; folds: string[]; misses: string[] }> = [
    {
      rule: 'uhhuh-uhuh-and-uuhuh-split-to-uh-huh',
      to: ['uh', 'huh'],
      // uhuh: no doubled h in the middle (h?); then more u's or h's in each place (u+, h+)
      folds: ['uhhuh', 'uhuh', 'uuhuh', 'uhuuh', 'uhuhh', 'uhhuhh', 'uuhhuuhh'],
      misses: ['xuhuh', 'uhuhx', 'xuhhuh', 'uhhuhx', 'uhu', 'huhu'],
    },
    {
      rule: 'mmhmm-mhhm-and-umhum-fold-to-mhm',
      to: ['mhm'],
      folds: [
        'mmhm',
        'mmhhm',
        'mhhm',
        'mhhmm',
        'mmhmm',
        'umhum',
        'uumhum',
        'ummhum',
        'umhhum',
        'umhuum',
        'umhumm',
      ],
      misses: ['xmhm', 'mhmx', 'umhu', 'mhu'],
    },
    {
      rule: 'mmm-folds-to-mm-and-one-m-stays',
      to: ['mm'],
      folds: ['mmm', 'mmmm'],
      misses: ['m', 'xmm', 'mmx'],
    },
    {
      rule: 'hm-hhm-and-hhmm-fold-to-hmm',
      to: ['hmm'],
      folds: ['hm', 'hhm', 'hhmm', 'hmmm'],
      misses: ['xhm', 'hmx', 'h'],
    },
    {
      rule: 'yea-yeh-yah-and-doubled-letters-fold-to-yeah',
      to: ['yeah'],
      folds: [
        'yea',
        'yeah',
        'yeh',
        'yah',
        'yyeah',
        'yeeah',
        'yeaah',
        'yeahh',
        'yyeh',
        'yeeh',
        'yehh',
        'yyah',
        'yaah',
        'yahh',
        'yyea',
      ],
      misses: ['xyeah', 'yeahx', 'yeax', 'ya', 'ye'],
    },
    {
      rule: 'yup-and-yepp-fold-to-yep',
      to: ['yep'],
      folds: ['yup', 'yyep', 'yeep', 'yuup', 'yepp', 'yeup'],
      misses: ['yap', 'yp', 'xyep', 'yepx'],
    },
    {
      rule: 'ok-okey-okie-and-kay-fold-to-okay',
      to: ['okay'],
      folds: [
        'ok',
        'oky',
        'oka',
        'ook',
        'okk',
        'okaay',
        'okayy',
        'okey',
        'ookey',
        'okkey',
        'okeey',
        'okeyy',
        'okie',
        'ookie',
        'okkie',
        'okiie',
        'okiee',
        'kay',
        'kkay',
        'kaay',
        'kayy',
      ],
      misses: ['k', 'oke', 'oki', 'ka', 'xokay', 'okayx', 'xkay', 'okiex', 'okeyx'],
    },
    {
      rule: 'allright-folds-to-alright',
      to: ['alright'],
      folds: ['allright'],
      misses: ['aright', 'xalright', 'alrightx'],
    },
    {
      rule: 'uhh-and-uuh-fold-to-uh',
      to: ['uh'],
      folds: ['uhh', 'uuh', 'uuhh'],
      misses: ['xuh', 'uhx', 'u'],
    },
    {
      rule: 'umm-and-uum-fold-to-um',
      to: ['um'],
      folds: ['umm', 'uum', 'uumm'],
      misses: ['xum', 'umx'],
    },
    {
      rule: 'ahh-and-aah-fold-to-ah',
      to: ['ah'],
      folds: ['ahh', 'aah', 'aahh'],
      misses: ['xah', 'ahx'],
    },
    {
      rule: 'ohh-and-ooh-fold-to-oh',
      to: ['oh'],
      folds: ['ohh', 'ooh', 'oohh'],
      misses: ['xoh', 'ohx'],
    },
    {
      rule: 'huhh-hhuh-and-huuh-fold-to-huh',
      to: ['huh'],
      folds: ['huhh', 'hhuh', 'huuh'],
      misses: ['xhuh', 'huhx', 'hu'],
    },
    {
      rule: 'yess-yyes-and-yees-fold-to-yes',
      to: ['yes'],
      folds: ['yess', 'yyes', 'yees'],
      misses: ['xyes', 'yesx', 'ys'],
    },
    {
      rule: 'noo-and-nno-fold-to-no',
      to: ['no'],
      folds: ['noo', 'nno', 'nnoo'],
      misses: ['xno', 'nox', 'n'],
    },
  ];

  describe.each(FOLDS)('$rule', ({ to, folds, misses }) => {
    it.each(folds)('"%s" folds', (variant) => {
      expect(normalize(variant)).toEqual(to);
    });
    it.each(misses)('"%s" is a near miss and stays as it is', (miss) => {
      expect(normalize(miss)).toEqual([miss]);
    });
  });

  it('drawn-out-words-squeeze-letters-repeated-three-times-then-fold', () => {
    expect(normalize('riiight')).toEqual(['right']);
    expect(normalize('yeeeah')).toEqual(['yeah']);
    expect(normalize('okaaay')).toEqual(['okay']);
    expect(normalize('uhhhhuh')).toEqual(['uh', 'huh']);
    // two of a letter are a spelling, not a drawn-out word
    expect(normalize('good')).toEqual(['good']);
  });
});

describe('soft-ack classifier: normalize() before the folds', () => {
  it('curly-and-backtick-apostrophes-become-straight-ones', () => {
    expect(normalize('that’s right')).toEqual(["that's", 'right']);
    expect(normalize('that‘s')).toEqual(["that's"]);
    expect(normalize('that`s')).toEqual(["that's"]);
  });

  it('hyphens-underscores-and-slashes-separate-words', () => {
    expect(normalize('mm-hmm')).toEqual(['mm', 'hmm']);
    expect(normalize('hold_on/wait')).toEqual(['hold', 'on', 'wait']);
    expect(normalize('hold--on')).toEqual(['hold', 'on']);
  });

  it('punctuation-separates-words-and-dots-join-letters', () => {
    expect(normalize('yeah,okay')).toEqual(['yeah', 'okay']);
    expect(normalize('wait!stop')).toEqual(['wait', 'stop']);
    expect(normalize('o.k.')).toEqual(['okay']);
    expect(normalize('works. your')).toEqual(['works', 'your']);
    expect(normalize('  yeah \t  okay ')).toEqual(['yeah', 'okay']);
  });

  it('an-apostrophe-inside-a-word-stays-a-quote-or-one-after-a-digit-goes', () => {
    expect(normalize("that's")).toEqual(["that's"]);
    expect(normalize("ma'am")).toEqual(["ma'am"]);
    expect(normalize("'yeah'")).toEqual(['yeah']);
    expect(normalize("callers' lines")).toEqual(['callers', 'lines']);
    expect(normalize("5'10")).toEqual(['5', '10']);
    expect(normalize("'90s")).toEqual(['90s']);
  });
});

describe('soft-ack classifier: partial phrases and the rest of an utterance', () => {
  it('the-start-of-a-longer-backchannel-is-held-until-the-next-words', () => {
    expect(heard('i got', false)).toMatchObject({ decision: 'undecided', reason: 'partial' });
    expect(heard('that makes', false)).toMatchObject({ decision: 'undecided', reason: 'partial' });
    expect(heard('i got it', false)).toMatchObject({ decision: 'ignore', reason: 'backchannel' });
    expect(heard('i got a', false)).toMatchObject({ decision: 'interrupt', reason: 'speech' });
  });

  it('a-backchannel-then-the-start-of-another-is-held', () => {
    expect(heard('yeah i', false)).toMatchObject({ decision: 'undecided', reason: 'partial' });
    expect(heard('yeah i see', false)).toMatchObject({ decision: 'ignore', reason: 'backchannel' });
    expect(heard('yeah i need', false)).toMatchObject({ decision: 'interrupt', reason: 'speech' });
  });

  it('the-start-of-a-command-is-speech-not-held-like-a-backchannel', () => {
    // only backchannel prefixes wait for more words; "hold", "just a", "excuse" take the floor
    expect(heard('hold', false)).toMatchObject({ decision: 'interrupt', reason: 'speech' });
    expect(heard('just a', false)).toMatchObject({ decision: 'interrupt', reason: 'speech' });
    expect(heard('excuse', false)).toMatchObject({ decision: 'interrupt', reason: 'speech' });
  });
});

describe('soft-ack classifier: echo, more cases', () => {
  const agent =
    'Sure, let me walk you through how the plan works. Your base fee covers three hundred minutes, then wait about thirty seconds.';

  it('one-word-the-agent-said-that-is-no-command-is-held-then-ignored-as-echo', () => {
    expect(heard('minutes', false, agent)).toMatchObject({ decision: 'undecided', reason: 'echo' });
    expect(heard('minutes', true, agent)).toMatchObject({ decision: 'ignore', reason: 'echo' });
    // the same word when the agent did not say it is the caller's
    expect(heard('minutes', true, 'Let me check that for you.')).toMatchObject({
      decision: 'interrupt',
      reason: 'speech',
    });
  });

  it('echo-of-the-agents-first-words-is-echo', () => {
    const said = normalize('Your base fee covers three hundred minutes');
    expect(isEcho(normalize('your base fee'), said, 0.75)).toBe(true);
    expect(
      heard('your base fee', true, 'Your base fee covers three hundred minutes'),
    ).toMatchObject({
      decision: 'ignore',
      reason: 'echo',
    });
  });

  it('the-agents-words-far-apart-in-its-sentence-are-not-echo', () => {
    // "walk … the … minutes" are the agent's words in order, but spread over its whole sentence
    expect(isEcho(normalize('walk the minutes'), normalize(agent), 0.75)).toBe(false);
    expect(heard('walk the minutes', true, agent)).toMatchObject({
      decision: 'interrupt',
      reason: 'speech',
    });
  });
});
