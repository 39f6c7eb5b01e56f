/**
 * Bad input on the real stack stays a clear, bounded event:
 *
 * - A call to a number no trunk or dispatch rule routes. LiveKit (server 1.13.5, SIP 1.8.0) does
 *   not reject it with a SIP error: the bridge sends 100 Trying and 180 Ringing, asks the server
 *   for a dispatch, gets DROP ("flood" protection: unknown numbers are not confirmed to
 *   scanners) and never sends a final response. The caller hears ringing until they give up.
 *   The bridge logs the INVITE once and closes its side once; nothing retries, nothing reaches
 *   our product (no room, no job, no call event).
 * - A caller who hangs up in the middle of the agent's sentence: the call ends with the
 *   caller's hang-up in the summary, the worker logs no error, and the next call is answered as
 *   usual by the same worker.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../stack/netns.js';
import { type Product, startProduct } from '../../stack/product.js';
import { primeTtsStandIn, sleep, until } from './support/audio.js';

const AGENTS_FILE = join(REPO_ROOT, 'test/e2e/fixtures/agents-routing.yaml');
const NUMBER = '+15550100000';
const UNROUTED = '+15550100999';
const GREETING = 'Thanks for calling Acme Home Internet, this is Ava. How can I help you today?';

let product: Product;

beforeAll(async () => {
  product = await startProduct({ agentsFile: AGENTS_FILE });
  await product.routeNumber(NUMBER, 'receptionist');
  await primeTtsStandIn(product.providers.tts, [GREETING]);
}, 180_000);

afterAll(async () => {
  await product?.stop();
});

/** livekit-sip's log lines (time, level, logger, source, message, JSON fields; tab-separated). */
function bridgeLog(): Array<{ msg: string; fields: Record<string, unknown> }> {
  return readFileSync(join(product.stack.logsDir, 'livekit-sip.log'), 'utf8')
    .split('\n')
    .map((l) => l.split('\t'))
    .filter((p) => p.length >= 5)
    .map((p) => {
      let fields: Record<string, unknown> = {};
      try {
        fields = JSON.parse(p[5] ?? '{}');
      } catch {}
      return { msg: p[4]!, fields };
    });
}

interface WorkerLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

function workerLines(): WorkerLine[] {
  return product
    .workerLog()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as WorkerLine);
}

describe('a call to an unrouted number', () => {
  it('rings, gets no final answer, is logged once by the bridge and never reaches the product', async () => {
    const phone = await product.phone({ user: '+15550000001', name: 'unrouted-caller' });
    const jobsBefore = workerLines().filter((l) => l.msg === 'received job request').length;
    const dialedAt = Date.now();
    await phone.dial(product.stack.sipUri(UNROUTED));
    const ringing = await phone.waitForEvent('CALL_RINGING', {
      since: dialedAt,
      timeoutMs: 10_000,
    });
    console.log(`unrouted number: INVITE → 180 Ringing ${ringing.at - dialedAt} ms`);
    // The bridge decided at once (it logs the close right after the INVITE)...
    const closed = await until('the bridge closing its side', () =>
      bridgeLog().find((l) => l.msg === 'Closing inbound call' && l.fields.toUser === UNROUTED),
    );
    console.log(
      `bridge: ${JSON.stringify({ status: closed.fields.status, result: closed.fields.result, reason: closed.fields.reason })}`,
    );
    // ...and sends the caller nothing more: no final response in the next 5 s.
    await sleep(5000);
    const later = phone.events.filter((e) => e.at >= ringing.at && e.type !== 'CALL_RINGING');
    expect(later.map((e) => e.type)).not.toContain('CALL_CLOSED');
    expect(later.map((e) => e.type)).not.toContain('CALL_ESTABLISHED');

    // The caller gives up: the phone closes the call itself.
    const hangupAt = Date.now();
    await phone.hangup();
    const gaveUp = await phone.waitForEvent('CALL_CLOSED', { since: hangupAt, timeoutMs: 10_000 });
    console.log(`unrouted number: the caller hung up: CALL_CLOSED "${gaveUp.param}"`);
    await sleep(1000);

    // Once: one INVITE processed, one close; no retry.
    const lines = bridgeLog().filter((l) => l.fields.toUser === UNROUTED);
    expect(lines.filter((l) => l.msg === 'processing invite')).toHaveLength(1);
    expect(lines.filter((l) => l.msg === 'Closing inbound call')).toHaveLength(1);
    // Nothing reached our product.
    expect(workerLines().filter((l) => l.msg === 'received job request')).toHaveLength(jobsBefore);
    expect((await product.api('GET', '/v1/calls')).body.calls).toEqual([]);
    expect(
      product.events.deliveries.filter((d) => d.body.includes(UNROUTED.replace('+', ''))),
    ).toEqual([]);
    await phone.stop();
  });
});

describe('a caller who hangs up mid-sentence', () => {
  it('ends the call as the caller hanging up, with no error in the worker', async () => {
    const phone = await product.phone({ user: '+15550000002', name: 'impatient-caller' });
    const dialedAt = Date.now();
    await phone.dial(product.stack.sipUri(NUMBER));
    await phone.waitForEvent('CALL_ESTABLISHED', { since: dialedAt, timeoutMs: 30_000 });
    const greeting = await until('the greeting under way', () =>
      product.providers.tts.spoken().find((c) => c.openedAt >= dialedAt && c.firstAudioAt),
    );
    const callId = await until('the call id', async () => {
      const r = await product.api('GET', '/v1/calls');
      return r.body?.calls?.[0]?.id as string | undefined;
    });
    // 1.5 s into a ~4.5 s greeting.
    await until('mid-sentence', () =>
      Date.now() >= greeting.firstAudioAt! + 1500 ? true : undefined,
    );
    const hangupAt = Date.now();
    await phone.hangup();
    await phone.waitForEvent('CALL_CLOSED', { since: hangupAt, timeoutMs: 10_000 });

    const summary = await until('call.summary', () =>
      product.callEvents(callId).find((e) => e.type === 'call.summary'),
    );
    console.log(`hang-up mid-sentence → call.summary after ${summary.at - hangupAt} ms`);
    expect(summary.data).toMatchObject({ outcome: 'completed', endedBy: 'caller' });
    expect(summary.at - hangupAt).toBeLessThan(10_000);
    const ended = product.callEvents(callId).find((e) => e.type === 'call.ended');
    expect(ended?.data).toMatchObject({ direction: 'inbound', reason: 'hangup' });
    await phone.stop();
  });

  it('the same worker answers the next call as usual', async () => {
    const worker = product.worker!;
    const phone = await product.phone({ user: '+15550000003', name: 'next-caller' });
    const dialedAt = Date.now();
    await phone.dial(product.stack.sipUri(NUMBER));
    await phone.waitForEvent('CALL_ESTABLISHED', { since: dialedAt, timeoutMs: 30_000 });
    const greeting = await until('the greeting spoken', () =>
      product.providers.tts.spoken().find((c) => c.openedAt >= dialedAt && c.finalAt),
    );
    expect(greeting.text.trim()).toBe(GREETING);
    await phone.hangup();
    await phone.stop();
    expect(worker.exitCode).toBeNull();
    expect(product.worker).toBe(worker);
    // Nothing at error level in the whole run (pino: 50 = error, 60 = fatal).
    const errors = workerLines().filter((l) => l.level >= 50);
    expect(errors.map((l) => `${l.msg} ${JSON.stringify(l.err ?? '')}`)).toEqual([]);
  });
});
