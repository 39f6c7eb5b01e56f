/**
 * The request-signing scheme every outgoing POST carries (HTTP tools, call events):
 * `t=<unix s>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`. A receiver following the documented
 * recipe must be able to check it by hand, and `verify` must refuse everything that is not an
 * untampered, fresh body signed with the right key.
 */
import { createHmac } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { SIGNATURE_HEADER, sign, verify } from '../src/core/signature.js';

const SECRET = 'whsec_test';
const BODY = '{"type":"call.ended","callId":"CALL_1"}';
const T = 1_700_000_000;
const hmac = (secret: string, text: string) =>
  createHmac('sha256', secret).update(text).digest('hex');

describe('signing a request body', () => {
  it('is the documented header: t=<unix s>,v1=<hex HMAC-SHA256 of "<t>.<body>">', () => {
    expect(sign(SECRET, BODY, T)).toBe(`t=${T},v1=${hmac(SECRET, `${T}.${BODY}`)}`);
    expect(SIGNATURE_HEADER).toBe('x-phone-agents-signature');
  });

  it('stamps the current time in whole seconds when none is given', () => {
    const before = Math.floor(Date.now() / 1000);
    const header = sign(SECRET, BODY);
    const after = Math.floor(Date.now() / 1000);
    const t = Number(/^t=(\d+),/.exec(header)?.[1]);
    expect(t).toBeGreaterThanOrEqual(before);
    expect(t).toBeLessThanOrEqual(after);
    expect(header).toBe(sign(SECRET, BODY, t));
  });
});

describe('verifying a signature as a receiver', () => {
  let header: string;
  beforeEach(() => {
    header = sign(SECRET, BODY, T);
  });

  it('accepts the untampered body with the right key, within the tolerance either side', () => {
    expect(verify(SECRET, header, BODY, { nowS: T })).toBe(true);
    expect(verify(SECRET, header, BODY, { nowS: T + 300 })).toBe(true);
    expect(verify(SECRET, header, BODY, { nowS: T - 300 })).toBe(true);
    expect(verify(SECRET, header, BODY, { nowS: T + 60, toleranceS: 60 })).toBe(true);
  });

  it('refuses a replay older (or a clock further ahead) than the tolerance', () => {
    expect(verify(SECRET, header, BODY, { nowS: T + 301 })).toBe(false);
    expect(verify(SECRET, header, BODY, { nowS: T - 301 })).toBe(false);
    expect(verify(SECRET, header, BODY, { nowS: T + 61, toleranceS: 60 })).toBe(false);
  });

  it('uses the current time and a 300 s tolerance by default', () => {
    const now = Math.floor(Date.now() / 1000);
    expect(verify(SECRET, sign(SECRET, BODY, now - 290), BODY)).toBe(true);
    expect(verify(SECRET, sign(SECRET, BODY, now - 310), BODY)).toBe(false);
  });

  it('refuses a changed body, another key, and a timestamp moved without re-signing', () => {
    expect(verify(SECRET, header, `${BODY} `, { nowS: T })).toBe(false);
    expect(verify('other', header, BODY, { nowS: T })).toBe(false);
    const v1 = header.split(',v1=')[1]!;
    expect(verify(SECRET, `t=${T + 1},v1=${v1}`, BODY, { nowS: T })).toBe(false);
  });

  it('reads the parts in any order and with spaces around them', () => {
    const v1 = hmac(SECRET, `${T}.${BODY}`);
    expect(verify(SECRET, `v1=${v1},t=${T}`, BODY, { nowS: T })).toBe(true);
    expect(verify(SECRET, ` t = ${T} , v1 = ${v1} `, BODY, { nowS: T })).toBe(true);
  });

  it.each([
    ['no header', undefined],
    ['an empty header', ''],
    ['no timestamp', `v1=${hmac(SECRET, `${T}.${BODY}`)}`],
    ['a timestamp that is not a whole number', `t=${T}.5,v1=${hmac(SECRET, `${T}.5.${BODY}`)}`],
    ['a timestamp that is not a number', `t=abc,v1=${hmac(SECRET, `abc.${BODY}`)}`],
    ['no v1', `t=${T}`],
    ['an upper-case hex v1', `t=${T},v1=${hmac(SECRET, `${T}.${BODY}`).toUpperCase()}`],
    ['a v1 one digit short', `t=${T},v1=${hmac(SECRET, `${T}.${BODY}`).slice(1)}`],
    ['a v1 with one digit more', `t=${T},v1=${hmac(SECRET, `${T}.${BODY}`)}0`],
    ['a v1 with a non-hex digit', `t=${T},v1=g${hmac(SECRET, `${T}.${BODY}`).slice(1)}`],
  ])('refuses %s', (_what, value) => {
    expect(verify(SECRET, value, BODY, { nowS: T })).toBe(false);
  });
});
