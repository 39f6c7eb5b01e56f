import { Writable } from 'node:stream';
import { log as frameworkLog } from '@livekit/agents';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createLogger, redactFrameworkLogger } from '../src/core/logger.js';
import { isE164, maskNumber, maskNumbersInText, toE164 } from '../src/core/phone.js';

function capture(fullNumbers = false) {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      lines.push(JSON.parse(chunk.toString()));
      cb();
    },
  });
  const log = createLogger({ LOG_LEVEL: 'info', LOG_FULL_NUMBERS: fullNumbers }, { destination });
  return { log, lines };
}

describe('logger redaction', () => {
  it('masks phone numbers by key, at the top level and one level down', () => {
    const { log, lines } = capture();
    log.info({ to: '+14155550123', call: { from: '+442071838750', room: 'call-1' } }, 'dialing');
    expect(lines[0]).toMatchObject({ to: '***0123', call: { from: '***8750', room: 'call-1' } });
  });

  it('logs full numbers only when configured', () => {
    const { log, lines } = capture(true);
    log.info({ to: '+14155550123' }, 'dialing');
    expect(lines[0]?.to).toBe('+14155550123');
  });

  it('censors secrets even when numbers are shown in full', () => {
    const { log, lines } = capture(true);
    log.info({ authorization: 'Bearer abc', auth: { password: 'hunter2' }, pin: '1234' }, 'x');
    expect(JSON.stringify(lines[0])).not.toMatch(/abc|hunter2|1234/);
    expect(lines[0]).toMatchObject({ authorization: '[redacted]', pin: '[redacted]' });
  });

  it('censors every secret setting by its variable name', () => {
    const { log, lines } = capture(true);
    log.info({ LIVEKIT_API_SECRET: 's1', config: { OPENAI_API_KEY: 's2', REDIS_URL: 's3' } }, 'x');
    expect(lines[0]).toMatchObject({
      LIVEKIT_API_SECRET: '[redacted]',
      config: { OPENAI_API_KEY: '[redacted]', REDIS_URL: '[redacted]' },
    });
  });
});

describe("the agents framework's logger", () => {
  const KEY = Symbol.for('@livekit/agents:logger');
  const g = globalThis as unknown as Record<symbol, unknown>;

  /** Runs `fn` with a framework logger that writes to `lines`, then puts the old one back. */
  function withFrameworkLogger(fn: (lines: Record<string, unknown>[]) => void): void {
    const before = g[KEY];
    const lines: Record<string, unknown>[] = [];
    const destination = new Writable({
      write(chunk, _enc, cb) {
        lines.push(JSON.parse(chunk.toString()));
        cb();
      },
    });
    g[KEY] = pino({ level: 'info' }, destination);
    try {
      fn(lines);
    } finally {
      g[KEY] = before;
    }
  }

  it("censors the keys send_dtmf pressed in the framework's tool-call line, and nothing else", () => {
    withFrameworkLogger((lines) => {
      expect(redactFrameworkLogger()).toBe(true);
      // What @livekit/agents (voice/generation.js) logs at info for every tool call.
      frameworkLog().info(
        { function: 'send_dtmf', 'lk.pii.arguments': { digits: '2*80417#' }, speech_id: 's1' },
        'Executing LLM tool call',
      );
      frameworkLog().info({ 'lk.pii.message': 'your plan is 49 dollars' }, 'playout completed');
      expect(JSON.stringify(lines)).not.toContain('80417');
      expect(lines[0]).toMatchObject({
        function: 'send_dtmf',
        'lk.pii.arguments': { digits: '[redacted]' },
        speech_id: 's1',
      });
      expect(lines[1]).toMatchObject({ 'lk.pii.message': 'your plan is 49 dollars' });
      // Once is enough: a second call keeps the same logger.
      const redacted = frameworkLog();
      expect(redactFrameworkLogger()).toBe(true);
      expect(frameworkLog()).toBe(redacted);
    });
  });

  it('does nothing before the framework set its logger up', () => {
    const before = g[KEY];
    g[KEY] = undefined;
    try {
      expect(redactFrameworkLogger()).toBe(false);
      expect(g[KEY]).toBeUndefined();
    } finally {
      g[KEY] = before;
    }
  });
});

describe('phone numbers', () => {
  it('accepts E.164 and rejects other shapes', () => {
    expect(isE164('+14155550123')).toBe(true);
    expect(isE164('14155550123')).toBe(false);
    expect(isE164('+1 415 555 0123')).toBe(false);
    expect(isE164('+1415')).toBe(false);
  });

  it('normalises what carriers send, and gives up on what is not a number', () => {
    expect(toE164('sip:+14155550123@sip.carrier.example')).toBe('+14155550123');
    expect(toE164('tel:+442071838750')).toBe('+442071838750');
    expect(toE164('14155550123')).toBe('+14155550123');
    expect(toE164('anonymous')).toBeUndefined();
    expect(toE164('')).toBeUndefined();
    expect(toE164('1001')).toBeUndefined();
  });

  it('masks numbers inside free text but leaves short figures alone', () => {
    expect(maskNumbersInText('Conflicting inbound SIP Trunks: "+14155550123" on ST_1')).toBe(
      'Conflicting inbound SIP Trunks: "***0123" on ST_1',
    );
    expect(maskNumbersInText('/v1/numbers/%2B442071838750')).toBe('/v1/numbers/%2B***8750');
    expect(maskNumbersInText('retry after 60000 ms, status 486')).toBe(
      'retry after 60000 ms, status 486',
    );
    expect(maskNumbersInText('+14155550123', true)).toBe('+14155550123');
  });

  it('masks all but the last four digits', () => {
    expect(maskNumber('+14155550123')).toBe('***0123');
    expect(maskNumber('12')).toBe('***');
  });
});
