import { beforeEach, describe, expect, it } from 'vitest';
import { buildCallContext, type CallContext } from '../src/telephony/call-context.js';

/** Attributes as LiveKit SIP sets them on an inbound caller (Twilio trunk, headers forwarded). */
const inboundTwilio = {
  'sip.callID': 'SCL_7tHvRZqXjP3e',
  'sip.callIDFull': '6c8a0f1e2d3b4c5a@203.0.113.10',
  'sip.callTag': 'as1f2e3d4',
  'sip.callStatus': 'active',
  'sip.trunkID': 'ST_inbound123',
  'sip.ruleID': 'SDR_rule456',
  'sip.phoneNumber': '+14155550142',
  'sip.trunkPhoneNumber': '+14155550123',
  'sip.hostname': 'acme.pstn.twilio.com',
  'sip.twilio.callSid': 'CA0123456789abcdef0123456789abcdef',
  'sip.twilio.accountSid': 'AC0123456789abcdef0123456789abcdef',
  'sip.h.X-Customer-Id': 'cust-981',
  'sip.h.X-Acme-Queue': 'billing',
  'lk.agent.state': 'listening',
  tier: 'gold',
};

describe('inbound call with E.164 numbers (Twilio trunk)', () => {
  // Built per test (not while collecting), so mutation testing can tell which tests read it.
  let call: CallContext;
  beforeEach(() => {
    call = buildCallContext({
      attributes: inboundTwilio,
      jobMetadata: '',
      roomName: 'call-_+14155550142_x8Yz',
      participantIdentity: 'sip_+14155550142',
    });
  });

  it('reads caller and dialed numbers by direction', () => {
    expect(call.direction).toBe('inbound');
    expect(call.callerNumber).toBe('+14155550142');
    expect(call.callerRaw).toBe('+14155550142');
    expect(call.callerHidden).toBe(false);
    expect(call.dialedNumber).toBe('+14155550123');
  });

  it('keeps LiveKit, SIP and provider ids', () => {
    expect(call.livekitCallId).toBe('SCL_7tHvRZqXjP3e');
    expect(call.sipCallId).toBe('6c8a0f1e2d3b4c5a@203.0.113.10');
    expect(call.trunkId).toBe('ST_inbound123');
    expect(call.ruleId).toBe('SDR_rule456');
    expect(call.providerIds).toEqual({
      'twilio.callSid': 'CA0123456789abcdef0123456789abcdef',
      'twilio.accountSid': 'AC0123456789abcdef0123456789abcdef',
    });
  });

  it('collects SIP headers by lower-cased name, and custom attributes without lk.*', () => {
    expect(call.headers).toEqual({ 'x-customer-id': 'cust-981', 'x-acme-queue': 'billing' });
    expect(call.attributes).toEqual({ tier: 'gold' });
    expect(call.roomName).toBe('call-_+14155550142_x8Yz');
    expect(call.participantIdentity).toBe('sip_+14155550142');
  });
});

describe('callers who withhold their number', () => {
  it('hidePhoneNumber: the number attributes are absent', () => {
    const call = buildCallContext({
      attributes: {
        'sip.callID': 'SCL_a',
        'sip.trunkID': 'ST_a',
        'sip.ruleID': 'SDR_a',
        'sip.callStatus': 'ringing',
      },
    });
    expect(call.direction).toBe('inbound');
    expect(call.callerHidden).toBe(true);
    expect(call.callerNumber).toBeUndefined();
    expect(call.callerRaw).toBeUndefined();
    expect(call.dialedNumber).toBeUndefined();
  });

  it.each([
    'anonymous',
    'Anonymous',
    'unknown',
    'unavailable',
    'private',
    'Restricted',
    'withheld',
    'blocked',
    'hidden',
    'sip:anonymous@anonymous.invalid',
    'sip:Private@carrier.example',
    // A URI with no user part at all: nothing to call back.
    'sip:@carrier.example',
    '  ',
    '',
  ])('"%s" is a hidden caller', (value) => {
    const call = buildCallContext({
      attributes: {
        'sip.ruleID': 'SDR_a',
        'sip.phoneNumber': value,
        'sip.trunkPhoneNumber': '+442071838750',
      },
    });
    expect(call.callerHidden).toBe(true);
    expect(call.callerNumber).toBeUndefined();
    expect(call.dialedNumber).toBe('+442071838750');
  });
});

describe('non-E.164 values', () => {
  it('trims what the carrier sent, and takes blank ids for none', () => {
    const call = buildCallContext({
      attributes: {
        'sip.ruleID': ' SDR_a ',
        'sip.phoneNumber': ' +14155550142 ',
        'sip.trunkPhoneNumber': '+14155550123\t',
        'sip.trunkID': '   ',
        'sip.callID': '',
      },
    });
    expect(call.callerRaw).toBe('+14155550142');
    expect(call.callerNumber).toBe('+14155550142');
    expect(call.dialedRaw).toBe('+14155550123');
    expect(call.ruleId).toBe('SDR_a');
    expect('trunkId' in call).toBe(false);
    expect('livekitCallId' in call).toBe(false);
  });

  it('a SIP URI caller is normalised and kept raw', () => {
    const call = buildCallContext({
      attributes: {
        'sip.ruleID': 'SDR_a',
        'sip.phoneNumber': 'sip:+14155550142@sip.carrier.example;user=phone',
        'sip.trunkPhoneNumber': 'tel:+14155550123',
      },
    });
    expect(call.callerNumber).toBe('+14155550142');
    expect(call.callerRaw).toBe('sip:+14155550142@sip.carrier.example;user=phone');
    expect(call.callerHidden).toBe(false);
    expect(call.dialedNumber).toBe('+14155550123');
  });

  it('national formats need PHONE_DEFAULT_REGION', () => {
    const attributes = {
      'sip.ruleID': 'SDR_a',
      'sip.phoneNumber': '(415) 555-0142',
      'sip.trunkPhoneNumber': '4155550123',
    };
    const without = buildCallContext({ attributes });
    expect(without.callerNumber).toBeUndefined();
    expect(without.callerRaw).toBe('(415) 555-0142');
    expect(without.callerHidden).toBe(false);

    const us = buildCallContext({ attributes, defaultRegion: 'US' });
    expect(us.callerNumber).toBe('+14155550142');
    expect(us.dialedNumber).toBe('+14155550123');

    const uk = buildCallContext({
      attributes: { 'sip.ruleID': 'SDR_a', 'sip.phoneNumber': '07911 123456' },
      defaultRegion: 'GB',
    });
    expect(uk.callerNumber).toBe('+447911123456');
  });

  it('international digits without "+" (common from carriers) are normalised', () => {
    const call = buildCallContext({
      attributes: { 'sip.ruleID': 'SDR_a', 'sip.phoneNumber': '14155550142' },
    });
    expect(call.callerNumber).toBe('+14155550142');
  });

  it('a PBX extension is not a number but not hidden either', () => {
    const call = buildCallContext({
      attributes: { 'sip.ruleID': 'SDR_a', 'sip.phoneNumber': 'sip:1001@pbx.acme.example' },
    });
    expect(call.callerNumber).toBeUndefined();
    expect(call.callerHidden).toBe(false);
    expect(call.callerRaw).toBe('sip:1001@pbx.acme.example');
  });
});

describe('outbound calls', () => {
  const attributes = {
    'sip.callID': 'SCL_out1',
    'sip.trunkID': 'ST_outbound9',
    'sip.callStatus': 'active',
    'sip.phoneNumber': '+14155550142', // the callee
    'sip.trunkPhoneNumber': '+14155550123', // our number
    campaign: 'renewals',
  };

  it('direction from the job metadata; caller is our number, dialed is the callee', () => {
    const call = buildCallContext({
      attributes,
      // What the API dispatches for POST /v1/calls (OutboundCallJob).
      jobMetadata: JSON.stringify({
        kind: 'phone-agents.call',
        version: 2,
        direction: 'outbound',
        callId: 'call-1',
        to: '+14155550142',
        agent: 'renewals',
        metadata: { campaign: 'renewals', customer: { id: 7 } },
      }),
    });
    expect(call.direction).toBe('outbound');
    expect(call.callerNumber).toBe('+14155550123');
    expect(call.dialedNumber).toBe('+14155550142');
    expect(call.requestedAgent).toBe('renewals');
    // The user's metadata only, not the call fields around it.
    expect(call.metadata).toEqual({ campaign: 'renewals', customer: { id: 7 } });
    expect(call.attributes).toEqual({ campaign: 'renewals' });
    expect(call.ruleId).toBeUndefined();
  });

  it('reads the agent as a name or a { name } object (job metadata version 1)', () => {
    const agentOf = (agent: unknown) =>
      buildCallContext({ jobMetadata: JSON.stringify({ agent }) }).requestedAgent;
    expect(agentOf('billing')).toBe('billing');
    expect(agentOf({ name: 'billing', metadata: { x: 1 } })).toBe('billing');
    expect(agentOf(' support ')).toBe('support');
    expect(agentOf('')).toBeUndefined();
    expect(agentOf({ name: 5 })).toBeUndefined();
    expect(agentOf(['billing'])).toBeUndefined();
  });

  it('a dispatch rule means inbound, even while the SIP participant is still dialing', () => {
    const call = buildCallContext({
      attributes: { ...attributes, 'sip.ruleID': 'SDR_x', 'sip.callStatus': 'dialing' },
    });
    expect(call.direction).toBe('inbound');
    expect(call.callerNumber).toBe('+14155550142');
    expect(call.dialedNumber).toBe('+14155550123');
  });

  it('the job metadata’s direction wins over what the attributes suggest', () => {
    const inbound = buildCallContext({
      attributes: { ...attributes, 'sip.callStatus': 'dialing' },
      jobMetadata: JSON.stringify({ direction: 'inbound' }),
    });
    expect(inbound.direction).toBe('inbound');
    const outbound = buildCallContext({
      attributes: { ...attributes, 'sip.ruleID': 'SDR_x' },
      jobMetadata: JSON.stringify({ direction: 'outbound' }),
    });
    expect(outbound.direction).toBe('outbound');
  });

  it('an answered SIP participant without a rule or metadata is taken for inbound', () => {
    expect(buildCallContext({ attributes }).direction).toBe('inbound');
  });

  it('without metadata: a SIP participant still dialing and without a rule is outbound', () => {
    const call = buildCallContext({ attributes: { ...attributes, 'sip.callStatus': 'dialing' } });
    expect(call.direction).toBe('outbound');
    expect(call.dialedNumber).toBe('+14155550142');
  });

  it('free-text or non-object metadata is ignored, not fatal', () => {
    expect(buildCallContext({ jobMetadata: 'hello' }).metadata).toEqual({});
    expect(buildCallContext({ jobMetadata: '[1,2]' }).metadata).toEqual({});
    expect(buildCallContext({ jobMetadata: '{"agent": 5}' }).requestedAgent).toBeUndefined();
    // Metadata in another format (a dispatch made outside the API) is not the user's metadata.
    expect(buildCallContext({ jobMetadata: '{"campaign":"renewals"}' }).metadata).toEqual({});
    expect(buildCallContext({ jobMetadata: '{"metadata":"text"}' }).metadata).toEqual({});
  });
});

it('no SIP participant at all (e.g. a browser test call) gives an inbound, hidden-caller context', () => {
  const call = buildCallContext({});
  expect(call).toEqual({
    direction: 'inbound',
    callerHidden: true,
    providerIds: {},
    headers: {},
    attributes: {},
    metadata: {},
  });
});
