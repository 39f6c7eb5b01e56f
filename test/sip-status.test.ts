/**
 * What the carrier's answer means: the one SIP status → outcome mapping (core/sip-status.ts) and
 * the translation of every livekit-server-sdk error into the API's documented HTTP status and
 * PA_ERR code (api/livekit-errors.ts), row by row of the tables in their headers. A 486 that
 * became "rejected" or an unreachable LiveKit that became a 500 would reach callers of the API.
 */
import { ServerError, SipCallError } from 'livekit-server-sdk';
import { describe, expect, it } from 'vitest';
import { fromLiveKitError, sipStatusOf } from '../src/api/livekit-errors.js';
import { sipOutcome } from '../src/core/sip-status.js';

describe('SIP final status → outcome', () => {
  it.each([
    [486, 'busy'],
    [600, 'busy'],
    [603, 'declined'],
    [607, 'declined'],
    [608, 'declined'],
    [408, 'no-answer'],
    [480, 'no-answer'],
    [487, 'no-answer'],
    [undefined, 'no-answer'],
    [404, 'unreachable'],
    [604, 'unreachable'],
    [500, 'unreachable'],
    [502, 'unreachable'],
    [503, 'unreachable'],
    [504, 'unreachable'],
    [403, 'rejected'],
    [488, 'rejected'],
    [401, 'rejected'],
    [501, 'rejected'],
    [606, 'rejected'],
  ] as const)('%s → %s', (status, outcome) => {
    expect(sipOutcome(status)).toBe(outcome);
  });
});

/** A SIP failure as livekit-server-sdk throws it from createSipParticipant/transferSipParticipant. */
const sipFailure = (code: number, reason?: string, twirp = 'unavailable') =>
  new SipCallError('twirp error', `twirp error ${twirp}: sip call failed`, 503, twirp, {
    sip_status_code: String(code),
    ...(reason ? { sip_status: reason } : {}),
  });
const serverError = (
  code: string,
  message = `twirp error ${code}: boom`,
  status = 500,
  metadata?: Record<string, string>,
) => new ServerError('twirp error', message, status, code, metadata);

describe('a SIP failure becomes the outcome’s HTTP status and code, with what the carrier said', () => {
  it.each([
    [486, 'Busy Here', 409, 'PA_ERR_SIP_BUSY'],
    [600, 'Busy Everywhere', 409, 'PA_ERR_SIP_BUSY'],
    [603, 'Decline', 403, 'PA_ERR_SIP_DECLINED'],
    [480, 'Temporarily Unavailable', 504, 'PA_ERR_SIP_NO_ANSWER'],
    [404, 'Not Found', 502, 'PA_ERR_SIP_UNREACHABLE'],
    [488, 'Not Acceptable Here', 502, 'PA_ERR_SIP_REJECTED'],
  ])('%s %s → %s %s', (code, reason, http, paCode) => {
    const err = fromLiveKitError(sipFailure(code, reason));
    expect(err).toMatchObject({ statusCode: http, code: paCode });
    expect(err.message).toContain(`${code} ${reason}`);
    expect(sipStatusOf(err)).toEqual({ sipStatusCode: code, sipStatus: reason });
  });

  it('reads a plain ServerError that carries SIP metadata the same way', () => {
    const err = fromLiveKitError(
      serverError('unavailable', 'twirp error unavailable: x', 503, {
        sip_status_code: '486',
        sip_status: 'Busy Here',
      }),
    );
    expect(err).toMatchObject({ statusCode: 409, code: 'PA_ERR_SIP_BUSY' });
    expect(sipStatusOf(err)).toEqual({ sipStatusCode: 486, sipStatus: 'Busy Here' });
  });

  it('names the reason "unknown" when the carrier gave none', () => {
    const err = fromLiveKitError(sipFailure(603));
    expect(err.message).toContain('603 unknown');
    expect(sipStatusOf(err)).toEqual({ sipStatusCode: 603, sipStatus: 'unknown' });
  });
});

describe('LiveKit errors without a SIP status', () => {
  it.each([
    ['not_found', 404, 'PA_ERR_NOT_FOUND'],
    ['bad_route', 404, 'PA_ERR_NOT_FOUND'],
    ['invalid_argument', 400, 'PA_ERR_LIVEKIT_INVALID'],
    ['malformed', 400, 'PA_ERR_LIVEKIT_INVALID'],
    ['out_of_range', 400, 'PA_ERR_LIVEKIT_INVALID'],
    ['already_exists', 409, 'PA_ERR_LIVEKIT_CONFLICT'],
    ['aborted', 409, 'PA_ERR_LIVEKIT_CONFLICT'],
    ['failed_precondition', 412, 'PA_ERR_LIVEKIT_PRECONDITION'],
    ['unauthenticated', 502, 'PA_ERR_LIVEKIT_AUTH'],
    ['permission_denied', 502, 'PA_ERR_LIVEKIT_AUTH'],
    ['unimplemented', 501, 'PA_ERR_NOT_SUPPORTED'],
    ['canceled', 504, 'PA_ERR_LIVEKIT_TIMEOUT'],
    ['deadline_exceeded', 504, 'PA_ERR_LIVEKIT_TIMEOUT'],
    ['unavailable', 503, 'PA_ERR_LIVEKIT_UNAVAILABLE'],
    ['resource_exhausted', 503, 'PA_ERR_LIVEKIT_UNAVAILABLE'],
    ['internal', 502, 'PA_ERR_LIVEKIT_REJECTED'],
    ['unknown', 502, 'PA_ERR_LIVEKIT_REJECTED'],
  ])('twirp %s → %s %s', (code, http, paCode) => {
    const err = fromLiveKitError(serverError(code));
    expect(err).toMatchObject({ statusCode: http, code: paCode });
    expect(sipStatusOf(err)).toBeUndefined();
  });

  it('drops LiveKit’s "twirp error <code>: " prefix from the message, and names the resource', () => {
    const err = fromLiveKitError(
      serverError('not_found', 'twirp error not_found: object cannot be found'),
      'trunk ST_1',
    );
    expect(err.message).toBe('trunk ST_1 not found (object cannot be found)');
    expect(fromLiveKitError(serverError('not_found', 'gone')).message).toBe(
      'resource not found (gone)',
    );
    expect(fromLiveKitError(serverError('invalid_argument', 'twirp error x: bad')).message).toBe(
      'bad',
    );
    // Only the prefix at the start, and only LiveKit's form of it.
    expect(
      fromLiveKitError(serverError('invalid_argument', 'why: twirp error x: bad')).message,
    ).toBe('why: twirp error x: bad');
  });

  it('takes an HTTP 401 of an unknown twirp code for refused credentials', () => {
    expect(fromLiveKitError(serverError('weird', 'no', 401))).toMatchObject({
      statusCode: 502,
      code: 'PA_ERR_LIVEKIT_AUTH',
    });
    expect(fromLiveKitError(serverError('weird', 'no', 400))).toMatchObject({
      code: 'PA_ERR_LIVEKIT_REJECTED',
    });
  });

  it.each([
    'sip call timed out',
    'ringing ran out',
    'SIP participant did not answer',
    'request timed out',
  ])('a timeout that mentions the call ("%s") is a no-answer with 408', (message) => {
    for (const code of ['canceled', 'deadline_exceeded']) {
      const err = fromLiveKitError(serverError(code, `twirp error ${code}: ${message}`));
      expect(err).toMatchObject({ statusCode: 504, code: 'PA_ERR_SIP_NO_ANSWER' });
      expect(err.message).toContain(message);
      expect(sipStatusOf(err)).toEqual({ sipStatusCode: 408, sipStatus: 'Request Timeout' });
    }
  });

  it('a timeout of anything else is LiveKit’s timeout', () => {
    const err = fromLiveKitError(serverError('deadline_exceeded', 'context deadline exceeded'));
    expect(err).toMatchObject({ statusCode: 504, code: 'PA_ERR_LIVEKIT_TIMEOUT' });
    expect(sipStatusOf(err)).toBeUndefined();
  });
});

describe('errors that never reached LiveKit', () => {
  it('a client-side timeout or abort is LiveKit’s timeout', () => {
    const timeout = new DOMException('The operation was aborted due to timeout', 'TimeoutError');
    const abort = new DOMException('This operation was aborted', 'AbortError');
    for (const e of [timeout, abort, Object.assign(new Error('x'), { name: 'TimeoutError' })]) {
      expect(fromLiveKitError(e)).toMatchObject({
        statusCode: 504,
        code: 'PA_ERR_LIVEKIT_TIMEOUT',
        message: expect.stringContaining('request timed out'),
      });
    }
  });

  it('a refused connection is "LiveKit unavailable", naming the socket error', () => {
    const refused = new TypeError('fetch failed', {
      cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
    });
    const err = fromLiveKitError(refused);
    expect(err).toMatchObject({ statusCode: 503, code: 'PA_ERR_LIVEKIT_UNAVAILABLE' });
    expect(err.message).toContain('ECONNREFUSED');
    expect(fromLiveKitError(new TypeError('fetch failed')).message).toContain('fetch failed');
  });

  it('any other Error is returned as it is (a logged 500), and a non-Error is a rejection', () => {
    const bug = new TypeError('x is not a function');
    expect(fromLiveKitError(bug)).toBe(bug);
    const plain = new Error('something');
    expect(fromLiveKitError(plain)).toBe(plain);
    expect(fromLiveKitError('weird')).toMatchObject({
      statusCode: 502,
      code: 'PA_ERR_LIVEKIT_REJECTED',
      message: expect.stringContaining('weird'),
    });
  });

  it('sipStatusOf reads nothing from errors without a SIP status', () => {
    expect(sipStatusOf(new Error('x'))).toBeUndefined();
    expect(sipStatusOf(Object.assign(new Error('x'), { problem: { other: 1 } }))).toBeUndefined();
    expect(sipStatusOf(Object.assign(new Error('x'), { problem: { sipStatusCode: 480 } }))).toEqual(
      { sipStatusCode: 480, sipStatus: '' },
    );
  });
});
