/** Starts tone-bot.ts inside the stack's namespace and talks to it over stdin/stdout JSON lines. */
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Stack } from '../../../stack/services.js';

export interface BotEvent {
  event: string;
  t: number;
  room?: string;
  identity?: string;
  [key: string]: unknown;
}

export interface ToneBot {
  readonly events: readonly BotEvent[];
  join(room: string): Promise<BotEvent>;
  /** Publishes a DTMF digit into `room` (the SIP bridge sends it to the phone as RFC 4733). */
  sendDtmf(room: string, digit: string): Promise<BotEvent>;
  /** Writes what the bot heard in `room` so far to a WAV; resolves with the `dumped` event (`file`). */
  dump(room: string): Promise<BotEvent & { file: string }>;
  /** The first event matching `pred` stamped at or after `since` (ms since epoch; default 0 = any, also past ones). */
  waitFor(
    pred: (e: BotEvent) => boolean,
    opts?: { timeoutMs?: number; since?: number; what?: string },
  ): Promise<BotEvent>;
  stop(): Promise<void>;
}

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'tone-bot.ts');

export async function startToneBot(
  stack: Stack,
  opts: { roomPrefix?: string; toneHz?: number; identity?: string } = {},
): Promise<ToneBot> {
  const outDir = join(stack.logsDir, 'tone-bot');
  mkdirSync(outDir, { recursive: true });
  const child = stack.spawnNode(
    SCRIPT,
    [
      '--url',
      stack.livekitUrl,
      '--api-key',
      stack.apiKey,
      '--api-secret',
      stack.apiSecret,
      '--out-dir',
      outDir,
      '--tone-hz',
      String(opts.toneHz ?? 440),
      '--identity',
      opts.identity ?? 'tone-bot',
      ...(opts.roomPrefix ? ['--room-prefix', opts.roomPrefix] : []),
    ],
    { stdio: ['pipe', 'pipe', 'inherit'], logName: 'tone-bot' },
  );
  const events: BotEvent[] = [];
  const waiters = new Set<() => void>();
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (!line.startsWith('{"event"')) return; // rtc-node's own log lines
    events.push(JSON.parse(line) as BotEvent);
    for (const w of waiters) w();
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));

  const waitFor: ToneBot['waitFor'] = (pred, o = {}) =>
    new Promise((resolve, reject) => {
      const since = o.since ?? 0;
      const timeoutMs = o.timeoutMs ?? 20_000;
      const find = () => events.find((x) => x.t >= since && pred(x));
      const hit = find();
      if (hit) return resolve(hit);
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
            `tone-bot: no ${o.what ?? 'event'} in ${timeoutMs} ms; events: ${JSON.stringify(events)}`,
          ),
        );
      }, timeoutMs);
      waiters.add(check);
    });
  const send = (cmd: object) => child.stdin!.write(`${JSON.stringify(cmd)}\n`);

  await waitFor((e) => e.event === 'ready', { timeoutMs: 30_000, what: 'ready' });
  return {
    events,
    waitFor,
    join: (room) => {
      send({ join: room });
      return waitFor((e) => e.event === 'joined' && e.room === room, { what: `joined ${room}` });
    },
    sendDtmf: (room, digit) => {
      const since = Date.now();
      send({ dtmf: { room, digit } });
      return waitFor((e) => (e.event === 'dtmf_sent' || e.event === 'error') && e.room === room, {
        since,
        timeoutMs: 5_000,
        what: `dtmf_sent ${digit}`,
      });
    },
    dump: (room) => {
      const since = Date.now();
      send({ dump: room });
      return waitFor((e) => e.event === 'dumped' && e.room === room, {
        since,
        timeoutMs: 5_000,
        what: `dumped ${room}`,
      }) as Promise<BotEvent & { file: string }>;
    },
    stop: async () => {
      if (child.exitCode !== null) return;
      send({ quit: true });
      const t = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(t);
    },
  };
}
