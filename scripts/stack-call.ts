/**
 * `npm run stack:call -- [--from WAV]... [--say TEXT]... [--out DIR] [--caller +E164] [--number +E164]`
 *
 * Places a real call to the local stack (`npm run stack:up`) with the bundled phone (baresip in
 * the stack's namespace): dials the routed number, waits for the greeting, plays each `--from`
 * WAV as one caller turn (waiting for the agent's reply after each), hangs up, and prints the
 * call's timeline from the phone (answer, what it heard when, turn latencies at the phone) and
 * from the API's call events (call.started, call.answered, call.ended, call.summary's transcript
 * and turn latencies). Writes `<out>/heard.wav` (what the caller heard), `<out>/sent.wav` and
 * `<out>/timeline.json`.
 *
 * `--say` is what the caller says, one per utterance: the STT stand-in is told (it hears where
 * speech is, not what it says). Without `--from`, each `--say` is spoken by the project's eSpeak
 * voice as a turn of its own. Default: examples/caller/question.wav and its sentence.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { writeWav } from '../src/core/wav.js';
import { speak } from '../src/sim/offline-tts.js';
import {
  CallError,
  type CallTurn,
  formatTimeline,
  placeCall,
  prepareTurns,
} from '../stack/local/call.js';
import { NotRunningError, runningStack } from '../stack/local/state.js';
import { REPO_ROOT } from '../stack/netns.js';

export const DEFAULT_WAV = join(REPO_ROOT, 'examples', 'caller', 'question.wav');
export const DEFAULT_SAY = 'Hi, what are your opening hours on Saturday?';

function fail(message: string): never {
  process.stderr.write(`stack:call: ${message}\n`);
  process.exit(1);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      from: { type: 'string', multiple: true },
      say: { type: 'string', multiple: true },
      out: { type: 'string' },
      caller: { type: 'string' },
      number: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(
      'usage: npm run stack:call -- [--from WAV]... [--say TEXT]... [--out DIR] [--caller +E164] [--number +E164]\n',
    );
    return 0;
  }
  const info = runningStack();
  for (const [flag, v] of [
    ['--caller', values.caller],
    ['--number', values.number],
  ] as const) {
    if (v !== undefined && !/^\+[1-9]\d{6,14}$/.test(v)) {
      fail(`${flag} ${v}: not an E.164 number (+ and 7 to 15 digits)`);
    }
  }
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  const out = resolve(values.out ?? join('out', 'stack-call', stamp));
  mkdirSync(out, { recursive: true });
  const froms = (values.from ?? []).map((f) => resolve(f));
  let says = values.say ?? [];
  let turns: CallTurn[];
  if (froms.length) {
    if (!says.length && froms.every((f) => f === DEFAULT_WAV)) says = froms.map(() => DEFAULT_SAY);
    if (!says.length && info.providers.stt === 'stand-in') {
      fail(
        `--from ${froms[0]}: the STT stand-in hears where speech is, not what it says: add --say "<what it says>" (one per utterance)`,
      );
    }
    turns = froms.map((wav, i) => ({
      wav,
      ...(says.length === froms.length ? { says: says[i]! } : {}),
    }));
  } else if (says.length) {
    // Each sentence spoken by the project's eSpeak voice, one turn each.
    mkdirSync(join(out, 'phone'), { recursive: true });
    turns = [];
    for (const [i, text] of says.entries()) {
      const voice = await speak(text, { voice: 'en-us+m3', rate: 165, sampleRate: 8000 });
      const samples = new Int16Array(voice.samples.length + 0.5 * 8000);
      samples.set(voice.samples, 0.2 * 8000);
      const wav = join(out, 'phone', `say-${i + 1}.wav`);
      writeWav(wav, { sampleRate: 8000, channels: 1, samples });
      turns.push({ wav, says: text });
    }
  } else {
    says = [DEFAULT_SAY];
    turns = [{ wav: DEFAULT_WAV, says: DEFAULT_SAY }];
  }
  const prepared = await prepareTurns(turns, out);

  if (info.providers.stt === 'stand-in') {
    const utterances = prepared.reduce((n, t) => n + t.speech.length, 0);
    if (utterances !== says.length) {
      process.stderr.write(
        `stack:call: warning: the audio holds ${utterances} utterance(s) (pauses ≥ 350 ms split them) but ${says.length} --say line(s) were given; the STT stand-in hears them in order and "unscripted caller speech" for the rest\n`,
      );
    }
    const res = await fetch(`${info.standInControlUrl}/stt/script`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ utterances: says }),
    }).catch((err: unknown) => fail(`the STT stand-in did not answer: ${(err as Error).message}`));
    if (!res.ok) fail(`the STT stand-in refused the script: ${res.status} ${await res.text()}`);
  }

  const caller = values.caller ?? `+1555${String(Date.now()).slice(-7)}`;
  const result = await placeCall({
    info,
    turns: prepared,
    out,
    caller,
    ...(values.number ? { number: values.number } : {}),
    log: (line) => process.stdout.write(`  ${line}\n`),
  });
  writeFileSync(join(out, 'timeline.json'), `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`\n${formatTimeline(result)}\n`);
  process.stdout.write(`timeline: ${join(out, 'timeline.json')}\n`);
  return result.callId && result.events.some((e) => e.type === 'call.summary') ? 0 : 1;
}

main()
  .then((code) => process.exit(code))
  .catch((err: unknown) => {
    if (err instanceof NotRunningError || err instanceof CallError) fail(err.message);
    fail((err as Error).stack ?? String(err));
  });
