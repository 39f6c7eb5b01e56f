/**
 * Digit entry by keypad over the real SIP bridge, as test/e2e/dtmf-menu-and-digits-over-the-bridge
 * .test.ts proves it and `npm run bench:reliability` repeats it: key 3 of the receptionist's menu
 * ("account number") makes the agent ask for the number and collect it (`collect_digits`); the
 * caller's baresip phone presses the keys (RFC 4733), and the agent's LLM gets what was collected
 * as the tool's output.
 */
import { join } from 'node:path';
import { REPO_ROOT } from '../../../stack/netns.js';
import type { Phone } from '../../../stack/phones.js';
import type { Product } from '../../../stack/product.js';
import type {
  LlmRequestRecord,
  SpokenContext,
  StandInLlmRule,
} from '../../../stack/providers/index.js';
import { until } from './audio.js';
import { played, spokenSince } from './standins.js';

export const DTMF_AGENTS_FILE = join(REPO_ROOT, 'test/e2e/fixtures/agents-dtmf.yaml');
export const ENTER_PROMPT = 'Please type it now, then press the pound key.';
export const THANKS = 'Thank you.';

/** The LLM stand-in's part in an entry: ask for the number and collect it, then thank. */
export const DIGIT_ENTRY_RULES: StandInLlmRule[] = [
  { match: 'account number', reply: ENTER_PROMPT, tool: 'collect_digits' },
  { afterTool: 'collect_digits', reply: THANKS },
];

export interface DigitEntry {
  /** When key 3 was sent. */
  keyAt: number;
  /** The LLM request the key made (its user text: the menu's words). */
  asked: LlmRequestRecord;
  /** The prompt to type the number. */
  prompt: SpokenContext;
  /** When the last key was sent. */
  lastKeyAt: number;
  /** The LLM request carrying collect_digits' output. */
  entered: LlmRequestRecord;
  /** The tool's output as the LLM got it. */
  output: string;
  /** The digits in it ('' when it says none were entered). */
  digits: string;
}

/**
 * On an established call: key 3, the prompt played out, then `keys` (the digits, with or without
 * the `#` that ends the entry at once); resolves with what the agent's LLM got from
 * collect_digits.
 */
export async function enterDigits(
  product: Product,
  phone: Phone,
  keys: string,
  gapMs?: number,
): Promise<DigitEntry> {
  const { llm } = product.providers;
  const keyAt = Date.now();
  await phone.sendDtmf('3');
  const asked = await until('the LLM asked with the menu words of key 3', () =>
    llm.requests().find((r) => r.at >= keyAt && r.userText === 'account number' && !r.toolOutput),
  );
  // The tool starts collecting once the prompt played out.
  const prompt = await spokenSince(product, 'pound key', keyAt);
  await played(prompt, 1200);
  await phone.sendDtmf(keys.slice(0, -1), gapMs);
  const lastKeyAt = Date.now();
  await phone.sendDtmf(keys.slice(-1), gapMs);
  const entered = await until('the entry as the tool output', () =>
    llm.requests().find((r) => r.at >= lastKeyAt && r.toolOutput?.name === 'collect_digits'),
  );
  // The framework hands the tool's string to the LLM JSON-encoded.
  const output = JSON.parse(entered.toolOutput!.output) as string;
  const digits = /^The caller entered: (.*)$/.exec(output)?.[1] ?? '';
  return { keyAt, asked, prompt, lastKeyAt, entered, output, digits };
}
