/**
 * SIPp as a calling carrier, for end-to-end tests that need what baresip cannot send: custom
 * INVITE headers (`X-...`). One SIPp process places one call (stack/sipp/uac-call.xml) from
 * `from` to `to` at the SIP bridge, with the extra headers, PCMU SDP, and plays `micWav` as RTP
 * once answered; it waits for the far end's BYE for `holdMs`, then hangs up itself.
 *
 *   const call = await startSippCall(stack, { to: '+15550100000', from: '+15550000001',
 *     headers: { 'X-Acme-Tier': 'gold' }, micWav });
 *   const result = await call.done; // { exitCode, answered, byeFrom: 'far-end' | 'caller' | undefined }
 */
import type { ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from './netns.js';
import type { PhoneHost } from './phones.js';

const execFileP = promisify(execFile);

export interface SippCallOptions {
  /** Dialed number (the request URI's user part). */
  to: string;
  /** Caller number (From/Contact user part). */
  from: string;
  /** Extra INVITE headers, e.g. `{ 'X-Acme-Tier': 'gold' }`. */
  headers?: Record<string, string>;
  /** Caller audio: any file sox reads (converted to 8 kHz mu-law, padded with silence). Default: silence. */
  micWav?: string;
  /** Hang up after this long when the far end has not (ms after the answer). Default 60 000. */
  holdMs?: number;
  /** Folder/log name under the logs folder. */
  name?: string;
}

export interface SippCallResult {
  /** SIPp's exit code: 0 = the scenario completed (answered, then a BYE either way). */
  exitCode: number | null;
  /** A 200 OK to the INVITE was received. */
  answered: boolean;
  /** Who sent the BYE: the bridge ('far-end'), SIPp ('caller'), or nobody (failed call). */
  byeFrom: 'far-end' | 'caller' | undefined;
  /** Final status of the INVITE (200, 404, 486, ...) if one was received. */
  inviteStatus: number | undefined;
  /** SIPp's message log (every SIP message sent and received). */
  messages: string;
}

export interface SippCall {
  readonly dir: string;
  readonly process: ChildProcess;
  /** Ms since epoch when SIPp was started (the INVITE goes out within a few ms). */
  readonly startedAt: number;
  /** Resolves when SIPp exits. */
  readonly done: Promise<SippCallResult>;
  /** The message log so far. */
  messages(): string;
  /** SIGTERM (no BYE), SIGKILL after 2 s. */
  stop(): Promise<void>;
}

/** Where the bridge listens, besides what phones need. */
export interface SipTarget extends PhoneHost {
  readonly sipHost: string;
  readonly sipPort: number;
}

/** Places one call with SIPp inside the stack's namespace. */
export async function startSippCall(stack: SipTarget, opts: SippCallOptions): Promise<SippCall> {
  const { netns } = stack;
  // SIP on port; SIPp binds its media port (port + 2, where rtp_stream sends from) and that
  // port + 2 (video): 6 ports.
  const port = netns.allocPorts(6);
  const name = opts.name ?? `sipp-call-${opts.from.replace(/\D/g, '')}-${port}`;
  const dir = join(stack.logsDir, name);
  mkdirSync(dir, { recursive: true });
  const mic = join(dir, 'mic-ulaw.wav');
  const holdMs = opts.holdMs ?? 60_000;
  // Padded with silence for the whole call: a caller that stops sending RTP would be hung up by
  // the bridge's media timeout.
  const seconds = String(Math.ceil(holdMs / 1000) + 5);
  await execFileP('sox', [
    ...(opts.micWav ? [opts.micWav] : ['-n']),
    '-r',
    '8000',
    '-c',
    '1',
    '-e',
    'u-law',
    '-t',
    'wav',
    mic,
    ...(opts.micWav ? [] : ['synth', '1', 'sine', '0', 'vol', '0']),
    'pad',
    '0',
    seconds,
    'trim',
    '0',
    seconds,
  ]);
  const headerLines = Object.entries(opts.headers ?? {})
    .map(([k, v]) => {
      if (!/^[A-Za-z0-9-]+$/.test(k) || /[\r\n]/.test(v)) throw new Error(`bad header ${k}`);
      return `      ${k}: ${v}`;
    })
    .join('\n');
  const scenario = readFileSync(join(REPO_ROOT, 'stack', 'sipp', 'uac-call.xml'), 'utf8')
    .replaceAll('__FROM__', opts.from)
    .replace('__EXTRA_HEADERS__\n', headerLines ? `${headerLines}\n` : '')
    .replaceAll('__MIC__', mic)
    .replaceAll('__HOLD_MS__', String(holdMs));
  const scenarioFile = join(dir, 'uac-call.xml');
  writeFileSync(scenarioFile, scenario);
  const messagesFile = join(dir, 'messages.log');
  writeFileSync(messagesFile, '');
  const startedAt = Date.now();
  const child = stack.spawn(
    'sipp',
    [
      '-sf',
      scenarioFile,
      '-i',
      netns.nsIp,
      '-p',
      String(port),
      '-mp',
      String(port + 2),
      '-s',
      opts.to,
      '-m',
      '1',
      '-t',
      'u1',
      '-nostdin',
      '-trace_err',
      '-error_file',
      join(dir, 'errors.log'),
      '-trace_msg',
      '-message_file',
      messagesFile,
      `${stack.sipHost}:${stack.sipPort}`,
    ],
    { logName: `${name}/sipp` },
  );
  const messages = () => {
    try {
      return readFileSync(messagesFile, 'utf8');
    } catch {
      return '';
    }
  };
  const done = new Promise<SippCallResult>((resolve) => {
    child.once('exit', (code) => {
      const log = messages();
      resolve({ exitCode: code, ...readOutcome(log), messages: log });
    });
  });
  return {
    dir,
    process: child,
    startedAt,
    done,
    messages,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 2_000);
      await done;
      clearTimeout(t);
    },
  };
}

/** One SIP message of SIPp's message log. */
export interface SippMessage {
  direction: 'sent' | 'received';
  /** The log's timestamp (ms since epoch). */
  at: number;
  /** First line: request line or status line. */
  firstLine: string;
  text: string;
}

/**
 * SIPp's `-trace_msg` log as messages: each starts with a line of dashes and a timestamp, then
 * "UDP message sent (N bytes):" or "UDP message received [N] bytes :", a blank line, the message.
 */
export function parseSippMessages(log: string): SippMessage[] {
  const out: SippMessage[] = [];
  const re =
    /^-{10,} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)\n(?:UDP|TCP) message (sent|received)[^\n]*\n\n/gm;
  const heads = [...log.matchAll(re)];
  heads.forEach((h, i) => {
    const start = h.index! + h[0].length;
    const end = i + 1 < heads.length ? heads[i + 1]!.index! : log.length;
    const text = log.slice(start, end).trim();
    out.push({
      direction: h[2] as 'sent' | 'received',
      at: new Date(h[1]!.replace(' ', 'T')).getTime(),
      firstLine: text.split('\n')[0] ?? '',
      text,
    });
  });
  return out;
}

/** What the message log says about the call. */
function readOutcome(log: string): Omit<SippCallResult, 'exitCode' | 'messages'> {
  const messages = parseSippMessages(log);
  const final = messages.find(
    (m) =>
      m.direction === 'received' &&
      /^SIP\/2\.0 [2-6]\d\d/.test(m.firstLine) &&
      /^CSeq:\s*\d+ INVITE/im.test(m.text),
  );
  const inviteStatus = final ? Number(final.firstLine.split(' ')[1]) : undefined;
  const bye = messages.find((m) => m.firstLine.startsWith('BYE '));
  return {
    answered: inviteStatus === 200,
    byeFrom: bye ? (bye.direction === 'received' ? 'far-end' : 'caller') : undefined,
    inviteStatus,
  };
}
