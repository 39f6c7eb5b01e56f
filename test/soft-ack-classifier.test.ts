import { describe, expect, it } from 'vitest';
import {
  CompiledLexicon,
  classify,
  defaultSoftAckOptions,
  isEcho,
  normalize,
  resolveSoftAckOptions,
} from '../src/telephony/interruption/index.js';

const lexicon = new CompiledLexicon(defaultSoftAckOptions.lexicon);
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
