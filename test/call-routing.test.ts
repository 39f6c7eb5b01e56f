import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadAgentsFile, parseAgentsFile } from '../src/agents/agents-file.js';
import { defaultCodeTools } from '../src/agents/code-tools.js';
import { type RouteLog, route } from '../src/agents/routing.js';
import { buildCallContext } from '../src/telephony/call-context.js';

const example = loadAgentsFile(resolve(__dirname, '../config/agents.example.yaml'), {
  env: { TOOLS_SECRET: 'test-secret' },
  codeToolNames: defaultCodeTools().names(),
});

function inbound(attrs: Record<string, string>, jobMetadata = '') {
  return buildCallContext({
    attributes: {
      'sip.ruleID': 'SDR_r',
      'sip.trunkID': 'ST_t',
      'sip.trunkPhoneNumber': '+14155550100',
      ...attrs,
    },
    jobMetadata,
  });
}

describe('routing with the shipped example file', () => {
  it('a blocked caller gets the polite refusal', () => {
    expect(route(example, inbound({ 'sip.phoneNumber': '+14155550199' }))).toEqual({
      refuse: 'Sorry, we are unable to take your call. Goodbye.',
      route: 'blocked-callers',
    });
  });

  it('a blocked prefix refuses, also when the caller comes as a SIP URI', () => {
    const decision = route(example, inbound({ 'sip.phoneNumber': 'sip:+19005550123@carrier' }));
    expect(decision).toMatchObject({ route: 'blocked-callers' });
    expect('refuse' in decision).toBe(true);
  });

  it('outbound campaign metadata selects the renewals agent', () => {
    const call = buildCallContext({
      attributes: { 'sip.phoneNumber': '+14155550142', 'sip.trunkPhoneNumber': '+14155550100' },
      jobMetadata: JSON.stringify({ direction: 'outbound', metadata: { campaign: 'renewals' } }),
    });
    expect(route(example, call)).toEqual({ agent: 'renewals', route: 'renewal-campaign' });
  });

  it('metadata conditions match the user metadata, not the job metadata around it', () => {
    const topLevel = buildCallContext({
      attributes: { 'sip.phoneNumber': '+14155550142', 'sip.trunkPhoneNumber': '+14155550100' },
      jobMetadata: JSON.stringify({ direction: 'outbound', campaign: 'renewals', metadata: {} }),
    });
    expect(route(example, topLevel)).toEqual({ agent: 'receptionist', route: 'everyone-else' });
  });

  it('the same metadata on an inbound call does not match the outbound-only route', () => {
    const call = inbound(
      { 'sip.phoneNumber': '+14155550142' },
      '{"metadata":{"campaign":"renewals"}}',
    );
    expect(route(example, call)).toEqual({ agent: 'receptionist', route: 'everyone-else' });
  });

  it('a SIP header routes, with the header name in any case', () => {
    const call = inbound({ 'sip.phoneNumber': '+14155550142', 'sip.h.x-acme-queue': 'Billing' });
    expect(route(example, call)).toEqual({ agent: 'billing', route: 'billing-line' });
  });

  it('the dialed number routes', () => {
    const call = inbound({
      'sip.phoneNumber': '+14155550142',
      'sip.trunkPhoneNumber': '+14155550123',
    });
    expect(route(example, call)).toEqual({ agent: 'support', route: 'support-number' });
  });

  it('everyone else, including hidden callers, reaches the default agent', () => {
    expect(route(example, inbound({ 'sip.phoneNumber': '+442071838750' }))).toEqual({
      agent: 'receptionist',
      route: 'everyone-else',
    });
    expect(route(example, inbound({}))).toEqual({
      agent: 'receptionist',
      route: 'everyone-else',
    });
  });

  it('an explicit agent in the job metadata wins over agent routes when it exists', () => {
    // The dialed number alone would route to support.
    const call = inbound(
      { 'sip.phoneNumber': '+14155550142', 'sip.trunkPhoneNumber': '+14155550123' },
      '{"agent":"billing","metadata":{}}',
    );
    expect(route(example, call)).toEqual({ agent: 'billing', route: 'metadata.agent' });
  });

  it('an unknown requested agent is logged and the routes decide', () => {
    const warnings: { obj: object; msg: string }[] = [];
    const log: RouteLog = { warn: (obj, msg) => warnings.push({ obj, msg }) };
    const unknown = inbound({ 'sip.phoneNumber': '+14155550142' }, '{"agent":"nobody"}');
    expect(route(example, unknown, log)).toEqual({ agent: 'receptionist', route: 'everyone-else' });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.obj).toMatchObject({ requestedAgent: 'nobody' });
    expect(warnings[0]?.msg).toMatch(/does not have/);
    route(example, inbound({ 'sip.phoneNumber': '+14155550142' }, '{"agent":"billing"}'), log);
    expect(warnings).toHaveLength(1);
  });

  it('a requested agent does not let a blocked caller through', () => {
    const call = inbound({ 'sip.phoneNumber': '+14155550199' }, '{"agent":"billing"}');
    expect(route(example, call)).toMatchObject({ route: 'blocked-callers' });
    expect('refuse' in route(example, call)).toBe(true);
  });
});

describe('routing table cases', () => {
  const table = parseAgentsFile(
    `
agents:
  - { name: main, instructions: Main line. }
  - { name: vip, instructions: VIP line. }
  - { name: uk, instructions: UK line. }
  - { name: desk, instructions: Internal desk. }
routes:
  - match: { callerHidden: true }
    refuse: We do not accept calls from withheld numbers.
  - name: vip-by-attribute-and-number
    match: { attributes: { tier: gold }, dialedNumber: ["+1415*", "+1628*"] }
    agent: vip
  - match: { callerNumber: "+44*" }
    agent: uk
  - match: { callerNumber: "10??" }
    agent: desk
  - match: { callerNumber: "1*" }
    agent: desk
  - default: true
    agent: main
`,
    'table.yaml',
  );

  const cases: [string, Record<string, string>, ReturnType<typeof route>][] = [
    [
      'anonymous caller is refused by the first route',
      { 'sip.phoneNumber': 'anonymous' },
      { refuse: 'We do not accept calls from withheld numbers.', route: 'routes[0]' },
    ],
    [
      'all conditions of a route must hold (attribute + dialed prefix)',
      { 'sip.phoneNumber': '+12125550100', 'sip.trunkPhoneNumber': '+16285550100', tier: 'gold' },
      { agent: 'vip', route: 'vip-by-attribute-and-number' },
    ],
    [
      'attribute without the dialed prefix falls through',
      { 'sip.phoneNumber': '+12125550100', 'sip.trunkPhoneNumber': '+12125550199', tier: 'gold' },
      { agent: 'main', route: 'routes[5]' },
    ],
    ['caller prefix', { 'sip.phoneNumber': '+447911123456' }, { agent: 'uk', route: 'routes[2]' }],
    [
      'a PBX extension matches on its user part; "?" is literal, only "*" is a wildcard',
      { 'sip.phoneNumber': 'sip:1001@pbx' },
      { agent: 'desk', route: 'routes[4]' },
    ],
  ];

  it.each(cases)('%s', (_name, attrs, expected) => {
    expect(route(table, inbound(attrs))).toEqual(expected);
  });
});
