import { describe, expect, it } from 'vitest';
import {
  createSpeakableFilter,
  PHONE_RULES,
  phoneInstructions,
  speakable,
} from '../src/agents/prompts.js';
import { buildCallContext } from '../src/telephony/call-context.js';

describe('text for the TTS voice', () => {
  it('drops markdown, bullets, headings, links and emoji, keeping the words', () => {
    expect(
      speakable(
        '## Your plan\n- **Fiber Max**: 40 dollars 🎉\n1. Call [our site](https://x.example) `now`',
      ),
    ).toBe('Your plan\nFiber Max: 40 dollars \nCall our site now');
  });

  it('works on streamed chunks, where a bullet starts a line in a later chunk', () => {
    const clean = createSpeakableFilter();
    const out = ['Options:\n', '- one', ' thing\n', '* **two**'].map(clean).join('');
    expect(out).toBe('Options:\none thing\ntwo');
  });

  it('leaves ordinary sentences alone', () => {
    const s = "It's twenty-four dollars and fifty cents, due on March third.";
    expect(speakable(s)).toBe(s);
  });
});

describe('phone instructions', () => {
  it('phone rules first, then the agent, then the call facts', () => {
    const call = buildCallContext({
      attributes: { 'sip.ruleID': 'R', 'sip.phoneNumber': '+14155550142' },
    });
    const text = phoneInstructions('You are Ava.', call);
    expect(text.startsWith(PHONE_RULES)).toBe(true);
    expect(text.indexOf('You are Ava.')).toBeGreaterThan(PHONE_RULES.length);
    expect(text).toContain("The caller's number is +14155550142.");
    const hidden = phoneInstructions(
      'You are Ava.',
      buildCallContext({ attributes: { 'sip.ruleID': 'R' } }),
    );
    expect(hidden).toContain('The caller withheld their number.');
  });
});
