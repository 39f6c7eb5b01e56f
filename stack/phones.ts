/**
 * Real SIP phones for end-to-end tests, run inside the stack's network namespace:
 *
 * - `startPhone` – a baresip (Debian baresip-core 1.0.0) user agent per phone: its own folder with
 *   `config` + `accounts`, a WAV as microphone (converted to 8 kHz mono PCM16 and padded with
 *   silence: the call ends when the microphone file ends), `sndfile` recordings of what it heard
 *   (`*-dec.wav`) and sent (`*-enc.wav`), driven over `ctrl_tcp` (dial / accept / hangup /
 *   DTMF / switch the microphone file) with its events parsed (incoming call, ringing,
 *   established, closed with the SIP status, DTMF received).
 * - `startSippUas` – SIPp as a callee that answers every INVITE with 486 / 603 / 480 (after a
 *   180), or rings until the caller gives up (CANCEL → 487).
 */
import { type ChildProcess, execFile } from 'node:child_process';
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Netns } from './netns.js';
import { REPO_ROOT, sleep } from './netns.js';

const execFileP = promisify(execFile);

/** What the phone drivers need of a stack: its namespace, a log folder and a managed spawn. */
export interface PhoneHost {
  readonly netns: Netns;
  readonly logsDir: string;
  spawn(
    cmd: string,
    args: readonly string[],
    opts?: { logName?: string; stdio?: 'ignore' | 'pipe' },
  ): ChildProcess;
}

// ------------------------------------------------------------------------------------------------
// baresip

export interface PhoneOptions {
  /** Account user part, e.g. '+15550000001'. An INVITE for another user part gets 404. */
  user: string;
  /** Folder/log name. Default `phone-<user digits>`. */
  name?: string;
  /** Microphone: any audio file sox reads. Default silence. */
  micWav?: string;
  /** Microphone length in seconds (padded with silence or cut). When it runs out baresip hangs up (CALL_CLOSED 'end of file'). Default 300. */
  micSeconds?: number;
  /** 'auto' answers incoming calls at once; 'manual' waits for answer(). Default 'manual'. */
  answer?: 'auto' | 'manual';
  /** Codecs offered/accepted, baresip names. Default ['PCMU/8000'] (what a PSTN carrier sends). Also 'PCMA/8000', 'G722/16000'. */
  codecs?: string[];
}

/** One baresip event from ctrl_tcp, with its arrival time. */
export interface PhoneEvent {
  /** e.g. CALL_INCOMING, CALL_RINGING, CALL_PROGRESS, CALL_ESTABLISHED, CALL_CLOSED, CALL_DTMF_START, CALL_DTMF_END. */
  type: string;
  /** ms since epoch when the driver read it. */
  at: number;
  /** baresip's `param`: for CALL_CLOSED the reason, e.g. '486 Busy Here' or 'Connection reset by user'; for DTMF the key. */
  param?: string;
  peerUri?: string;
  direction?: string;
  id?: string;
  /** The SIP status of CALL_CLOSED when its reason starts with one (e.g. 486). */
  sipStatus?: number;
  raw: Record<string, unknown>;
}

export interface Recording {
  /** What the phone heard (decoded from the line), 8 kHz mono PCM16 WAV. */
  heard: string;
  /** What the phone sent (its microphone, before encoding). */
  sent: string;
}

export interface Phone {
  readonly name: string;
  readonly user: string;
  /** `sip:<user>@<nsIp>:<port>` – where this phone is reached (an outbound trunk's address is `<nsIp>:<port>`). */
  readonly uri: string;
  readonly host: string;
  readonly port: number;
  readonly dir: string;
  readonly events: readonly PhoneEvent[];
  readonly process: ChildProcess;
  /** Dials a SIP URI (`stack.sipUri(number)` for the bridge). Resolves when baresip took the command. */
  dial(uri: string): Promise<void>;
  /** Accepts the ringing incoming call. */
  answer(): Promise<void>;
  hangup(): Promise<void>;
  /** Sends DTMF keys (RFC 4733 telephone-events) on the established call, `gapMs` apart. */
  sendDtmf(digits: string, gapMs?: number): Promise<void>;
  /**
   * Switches the microphone to another audio file, mid-call: the file, then silence up to
   * `seconds` (default 300). When the microphone runs out baresip hangs up (CALL_CLOSED 'end of file').
   */
  play(file: string, seconds?: number): Promise<void>;
  /** Raw ctrl_tcp command (baresip menu commands: listcalls, callstat, ...); resolves with its response text. */
  command(command: string, params?: string): Promise<string>;
  /** The first event of `type` (matching `filter`) that arrived at or after `since` (default: any time). */
  waitForEvent(
    type: string,
    opts?: { timeoutMs?: number; since?: number; filter?: (e: PhoneEvent) => boolean },
  ): Promise<PhoneEvent>;
  /** Recordings, oldest first (sndfile names them by the second a call's audio started). */
  recordings(): Recording[];
  /** SIGTERM (baresip hangs up its calls), SIGKILL after 3 s. */
  stop(): Promise<void>;
}

/** Converts `input` to 8 kHz mono PCM16 of exactly `seconds` (padded with silence) with sox. */
export async function prepareMicWav(
  input: string | undefined,
  output: string,
  seconds: number,
): Promise<void> {
  const src = input ? [input] : ['-n'];
  const synth = input ? [] : ['synth', String(seconds), 'sine', '0', 'vol', '0'];
  await execFileP('sox', [
    ...src,
    '-r',
    '8000',
    '-c',
    '1',
    '-b',
    '16',
    '-e',
    'signed-integer',
    output,
    ...synth,
    'pad',
    '0',
    String(seconds),
    'trim',
    '0',
    String(seconds),
  ]);
}

export async function startPhone(host: PhoneHost, opts: PhoneOptions): Promise<Phone> {
  const { netns } = host;
  const name = opts.name ?? `phone-${opts.user.replace(/\D/g, '')}`;
  const dir = join(host.logsDir, name);
  const recDir = join(dir, 'rec');
  mkdirSync(recDir, { recursive: true });
  // SIP port p (UDP+TCP; TLS would take p+1), ctrl_tcp p+2, RTP p+4..p+23.
  const base = netns.allocPorts(24);
  const sipPort = base;
  const ctrlPort = base + 2;
  const mic = join(dir, 'mic.wav');
  await prepareMicWav(opts.micWav, mic, opts.micSeconds ?? 300);
  const codecs = opts.codecs ?? ['PCMU/8000'];
  // No sound card: what the phone hears goes to sndfile's recording (a decode filter, run as RTP
  // arrives) and then to an aubridge "player" that nothing pulls from. ALSA's null device, used
  // before, never blocks: baresip's player thread spun on it at 50-100 % of a core per phone.
  const modules = ['g711.so', 'aufile.so', 'aubridge.so', 'sndfile.so'];
  if (codecs.some((c) => c.startsWith('G722'))) modules.push('g722.so');
  writeFileSync(
    join(dir, 'config'),
    [
      `sip_listen ${netns.nsIp}:${sipPort}`,
      // An IP, not an interface name: without it baresip would pick an address for SDP itself.
      `net_interface ${netns.nsIp}`,
      `rtp_ports ${base + 4}-${base + 23}`,
      'audio_player aubridge,nowhere',
      'audio_alert aubridge,nowhere',
      `audio_source aufile,${mic}`,
      'ausrc_srate 8000',
      'ausrc_channels 1',
      'module_path /usr/lib/baresip/modules',
      ...modules.map((m) => `module ${m}`),
      'module_app account.so',
      'module_app menu.so',
      'module_app ctrl_tcp.so',
      // On the veth address: the driver runs in the root namespace, which cannot reach the
      // namespace's loopback.
      `ctrl_tcp_listen ${netns.nsIp}:${ctrlPort}`,
      `snd_path ${recDir}`,
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(dir, 'accounts'),
    `<sip:${opts.user}@${netns.nsIp}:${sipPort}>;regint=0;answermode=${opts.answer ?? 'manual'};audio_codecs=${codecs.join(',')}\n`,
  );
  const child = host.spawn('baresip', ['-f', dir], { logName: `${name}/baresip` });
  const events: PhoneEvent[] = [];
  const waiters = new Set<() => void>();
  const pending = new Map<string, (r: { ok: boolean; data: string }) => void>();
  let token = 0;

  const sock = await connectCtrl(netns, ctrlPort, child, 10_000);
  let buf = Buffer.alloc(0);
  sock.on('data', (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      const colon = buf.indexOf(':');
      if (colon < 0) return;
      const len = Number(buf.subarray(0, colon).toString());
      if (buf.length < colon + 1 + len + 1) return;
      const body = buf.subarray(colon + 1, colon + 1 + len).toString();
      buf = buf.subarray(colon + 1 + len + 1);
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(body);
      } catch {
        continue;
      }
      if (msg.response) {
        const t = String(msg.token ?? '');
        pending.get(t)?.({ ok: msg.ok === true, data: String(msg.data ?? '') });
        pending.delete(t);
      } else if (msg.event) {
        const param = msg.param === undefined ? undefined : String(msg.param);
        const status = param ? /^(\d{3})\b/.exec(param) : null;
        events.push({
          type: String(msg.type),
          at: Date.now(),
          param,
          peerUri: msg.peeruri === undefined ? undefined : String(msg.peeruri),
          direction: msg.direction === undefined ? undefined : String(msg.direction),
          id: msg.id === undefined ? undefined : String(msg.id),
          sipStatus: status ? Number(status[1]) : undefined,
          raw: msg,
        });
        for (const w of waiters) w();
      }
    }
  });

  const command = (cmd: string, params?: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const t = String(++token);
      const body = JSON.stringify({ command: cmd, params: params ?? '', token: t });
      const timer = setTimeout(() => {
        pending.delete(t);
        reject(new Error(`baresip ${name}: no response to ${cmd}`));
      }, 5_000);
      pending.set(t, (r) => {
        clearTimeout(timer);
        if (r.ok) resolve(r.data);
        else reject(new Error(`baresip ${name}: ${cmd} ${params ?? ''} failed: ${r.data}`));
      });
      sock.write(`${Buffer.byteLength(body)}:${body},`);
    });

  const waitForEvent: Phone['waitForEvent'] = (type, o = {}) =>
    new Promise((resolve, reject) => {
      const since = o.since ?? 0;
      const find = () =>
        events.find((e) => e.type === type && e.at >= since && (!o.filter || o.filter(e)));
      const hit = find();
      if (hit) return resolve(hit);
      const timeoutMs = o.timeoutMs ?? 30_000;
      const check = () => {
        const e = find();
        if (!e) return;
        waiters.delete(check);
        clearTimeout(timer);
        resolve(e);
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(
          new Error(
            `baresip ${name}: no ${type} within ${timeoutMs} ms (events: ${events
              .map((e) => `${e.type}${e.param ? `(${e.param})` : ''}`)
              .join(', ')})`,
          ),
        );
      }, timeoutMs);
      waiters.add(check);
    });

  return {
    name,
    user: opts.user,
    uri: `sip:${opts.user}@${netns.nsIp}:${sipPort}`,
    host: netns.nsIp,
    port: sipPort,
    dir,
    events,
    process: child,
    dial: async (uri) => void (await command('dial', uri)),
    answer: async () => void (await command('accept')),
    hangup: async () => void (await command('hangup')),
    sendDtmf: async (digits, gapMs = 250) => {
      for (const d of digits) {
        await command('sndcode', d);
        await sleep(gapMs);
      }
    },
    play: async (file, seconds) => {
      const out = join(dir, `play-${Date.now()}.wav`);
      await prepareMicWav(file, out, seconds ?? 300);
      await command('ausrc', `aufile,${out}`);
    },
    command,
    waitForEvent,
    recordings: () => listRecordings(recDir),
    stop: async () => {
      sock.destroy();
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 3_000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** Connects to baresip's ctrl_tcp (on the namespace's veth address) once it listens. */
async function connectCtrl(
  netns: Netns,
  port: number,
  child: ChildProcess,
  timeoutMs: number,
): Promise<Socket> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`baresip exited (${child.exitCode}) at start`);
    const sock = await new Promise<Socket | undefined>((resolve) => {
      const s = connect({ host: netns.nsIp, port });
      s.once('connect', () => resolve(s));
      s.once('error', () => resolve(undefined));
    });
    if (sock) return sock;
    await sleep(50);
  }
  throw new Error(`baresip ctrl_tcp on ${netns.nsIp}:${port} did not open in ${timeoutMs} ms`);
}

function listRecordings(recDir: string): Recording[] {
  const files = readdirSync(recDir);
  return files
    .filter((f) => f.endsWith('-dec.wav'))
    .map((f) => ({
      heard: join(recDir, f),
      sent: join(recDir, f.replace(/-dec\.wav$/, '-enc.wav')),
      mtime: statSync(join(recDir, f)).mtimeMs,
    }))
    .sort((a, b) => a.heard.localeCompare(b.heard) || a.mtime - b.mtime)
    .map(({ heard, sent }) => ({ heard, sent }));
}

// ------------------------------------------------------------------------------------------------
// SIPp

export type SippBehaviour = 486 | 603 | 480 | 'ring-forever';

export interface SippUas {
  readonly host: string;
  readonly port: number;
  /** `<nsIp>:<port>` – an outbound trunk's `address`. */
  readonly address: string;
  readonly process: ChildProcess;
  stop(): Promise<void>;
}

/** SIPp reads a response's status code when it loads the scenario (no keyword there): one file each. */
const SCENARIOS: Record<486 | 603 | 480, string> = {
  486: 'busy',
  603: 'decline',
  480: 'unavailable',
};

/**
 * SIPp (Debian sip-tester 3.6) as a callee inside the namespace, answering every INVITE (any
 * user part): 100, 180, then the final status; or 100, 180 and nothing until CANCEL (200 to the
 * CANCEL, 487 to the INVITE). Scenarios: stack/sipp/*.xml.
 */
export async function startSippUas(
  host: PhoneHost,
  behaviour: SippBehaviour,
  opts: { name?: string } = {},
): Promise<SippUas> {
  const { netns } = host;
  // SIP on port; SIPp binds its media port (port + 2) and that port + 2 (video): 6 ports.
  const port = netns.allocPorts(6);
  const name = opts.name ?? `sipp-${behaviour}-${port}`;
  const dir = join(host.logsDir, name);
  mkdirSync(dir, { recursive: true });
  const file =
    behaviour === 'ring-forever'
      ? 'uas-ring-forever.xml'
      : `uas-${behaviour}-${SCENARIOS[behaviour]}.xml`;
  const scenario = ['-sf', join(REPO_ROOT, 'stack', 'sipp', file)];
  const child = host.spawn(
    'sipp',
    [
      ...scenario,
      '-i',
      netns.nsIp,
      '-p',
      String(port),
      '-mp',
      String(port + 2),
      '-t',
      'u1',
      '-nostdin',
      '-trace_err',
      '-error_file',
      join(dir, 'errors.log'),
      '-trace_msg',
      '-message_file',
      join(dir, 'messages.log'),
    ],
    { logName: `${name}/sipp` },
  );
  // SIPp prints nothing useful when its stdout is not a terminal; wait for the UDP socket.
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`sipp exited (${child.exitCode}) at start`);
    const { stdout } = await netns.run('ss', ['-lun', `sport = :${port}`]);
    if (stdout.includes(`:${port}`)) break;
    await sleep(50);
  }
  return {
    host: netns.nsIp,
    port,
    address: `${netns.nsIp}:${port}`,
    process: child,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 2_000);
      await exited;
      clearTimeout(t);
    },
  };
}
