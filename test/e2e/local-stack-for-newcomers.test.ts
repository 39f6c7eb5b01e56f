/**
 * A newcomer's first hour, on the real stack: `npm run stack:up` brings the whole product up in
 * the background and says how to call; `npm run stack:call` places a real call with the bundled
 * phone and prints its timeline; `npm run stack:down` leaves nothing behind. The commands run as
 * a newcomer types them (npm, in the repository), with the state folder moved to a temporary one
 * (PA_LOCAL_STACK_DIR) so a developer's own local stack is left alone.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallResult } from '../../stack/local/call.js';
import type { LocalStackInfo } from '../../stack/local/state.js';
import { namespaces, REPO_ROOT } from '../../stack/netns.js';
import { speechIn } from '../../stack/phone-audio.js';

const SAY = 'Hi, what are your opening hours on Saturday?';
const REPLY = /We are open Monday to Saturday/;
const GREETING = /Thanks for calling Acme Home Internet/;

let stateDir: string;
let outDir: string;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `npm run <script> -- args` in the repository, as a newcomer runs it. */
function npmRun(script: string, args: string[] = [], timeoutMs = 120_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'npm',
      ['run', '--silent', script, ...(args.length ? ['--', ...args] : [])],
      {
        cwd: REPO_ROOT,
        env: {
          ...process.env,
          PA_LOCAL_STACK_DIR: stateDir,
          // The stand-ins, whatever provider keys the machine has (empty = not set).
          DEEPGRAM_API_KEY: '',
          ELEVEN_API_KEY: '',
          OPENAI_API_KEY: '',
          LLM_BASE_URL: '',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`npm run ${script} did not finish in ${timeoutMs} ms:\n${stdout}\n${stderr}`),
      );
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

let info: LocalStackInfo;

beforeAll(() => {
  stateDir = mkdtempSync(join(tmpdir(), 'pa-local-stack-'));
  outDir = join(stateDir, 'call');
});

afterAll(async () => {
  // Whatever happened above: nothing of this test's stack may stay up.
  await npmRun('stack:down').catch(() => undefined);
  rmSync(stateDir, { recursive: true, force: true });
});

describe('the local stack, as a newcomer uses it', () => {
  it('stack:call before stack:up says, in one line, to run stack:up first', async () => {
    const run = await npmRun('stack:call');
    expect(run.code).toBe(1);
    expect(run.stderr.trim()).toBe(
      'stack:call: the local stack is not running: run `npm run stack:up` first',
    );
  });

  it('stack:up brings everything up in the background, writes stack.json and says how to call', async () => {
    const t0 = Date.now();
    const run = await npmRun('stack:up', [], 420_000);
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    console.log(`stack:up returned in ${Date.now() - t0} ms`);
    info = JSON.parse(readFileSync(join(stateDir, 'stack.json'), 'utf8'));
    expect(info).toMatchObject({
      apiUrl: expect.stringMatching(/^http:\/\/10\.77\.\d+\.1:\d+$/),
      apiKey: expect.any(String),
      livekitUrl: expect.stringMatching(/^ws:\/\/10\.77\.\d+\.2:7880$/),
      sipHost: expect.stringMatching(/^10\.77\.\d+\.2$/),
      sipPort: 5060,
      number: '+15550100000',
      netns: expect.stringMatching(/^pa-stack-\d+$/),
      agent: 'receptionist',
      providers: { stt: 'stand-in', tts: 'stand-in', llm: 'stand-in' },
    });
    expect(await namespaces()).toContain(info.netns);
    for (const pid of Object.values(info.pids)) expect(alive(pid), `pid ${pid}`).toBe(true);
    // What it printed: where things are and how to call from the bundled phone or a softphone.
    expect(run.stdout).toContain('The local stack is up');
    expect(run.stdout).toContain(`sip:+15550100000@${info.sipHost}:5060`);
    expect(run.stdout).toContain(`ip netns exec ${info.netns} baresip`);
    expect(run.stdout).toContain('npm run stack:call');
    expect(run.stdout).toContain('npm run stack:down');
    // The number is routed to the receptionist through our API.
    const res = await fetch(`${info.apiUrl}/v1/numbers`, {
      headers: { authorization: `Bearer ${info.apiKey}` },
    });
    const body = (await res.json()) as {
      items: Array<{ number: string; agent?: { name: string } }>;
    };
    expect(body.items.find((n) => n.number === info.number)?.agent?.name).toBe('receptionist');
  }, 450_000);

  it('a second stack:up finds it running and only prints it', async () => {
    const run = await npmRun('stack:up');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Already running');
    expect(JSON.parse(readFileSync(join(stateDir, 'stack.json'), 'utf8')).pids).toEqual(info.pids);
  });

  it('stack:call names a WAV that is not there', async () => {
    const run = await npmRun('stack:call', ['--from', 'no/such/caller.wav', '--say', 'hello']);
    expect(run.code).toBe(1);
    expect(run.stderr.trim()).toBe(
      `stack:call: ${join(REPO_ROOT, 'no/such/caller.wav')}: no such file`,
    );
  });

  it('stack:call places a real call: the caller hears the greeting and the reply, and the timeline is printed', async () => {
    const run = await npmRun('stack:call', ['--out', outDir], 180_000);
    console.log(run.stdout);
    expect(run.code, run.stderr).toBe(0);
    // The timeline: the phone's side and the API's call events, the summary's transcript.
    const out = run.stdout;
    expect(out).toMatch(/200 OK: answered \(INVITE → 200 OK \d+ ms\)/);
    for (const type of ['call.started', 'call.answered', 'call.ended', 'call.summary']) {
      expect(out).toContain(type);
    }
    expect(out).toMatch(/call\.ended {2}reason hangup/);
    expect(out).toMatch(/call\.summary {2}outcome completed, ended by caller, agents receptionist/);
    expect(out).toContain('transcript (call.summary):');
    expect(out).toMatch(GREETING);
    expect(out).toContain(`caller               ${SAY}`);
    expect(out).toMatch(REPLY);
    expect(out).toMatch(/turn latency, the agent's own measure .*: \d+ ms/);
    expect(out).toMatch(/turn latency at the phone .*: \d+ ms/);

    // heard.wav: the greeting soon after the answer, silence while the caller speaks, the reply.
    const heardWav = join(outDir, 'heard.wav');
    expect(existsSync(heardWav)).toBe(true);
    expect(existsSync(join(outDir, 'sent.wav'))).toBe(true);
    const result = JSON.parse(readFileSync(join(outDir, 'timeline.json'), 'utf8')) as CallResult;
    const speech = speechIn(heardWav);
    console.log(`heard: ${JSON.stringify(speech)}`);
    const greeting = speech[0]!;
    expect(greeting.start).toBeLessThan(3);
    expect(greeting.end - greeting.start).toBeGreaterThan(3); // ~4.3 s of eSpeak
    const asked = result.turns[0]!.speech;
    expect(asked).toHaveLength(1);
    // On the sent file's time line: the reply starts after the question ended, and is ~5.8 s long.
    const replies = result.heardSpeech.filter((h) => h.start > asked[0]!.end);
    const replied = replies.reduce((n, s) => n + (s.end - s.start), 0);
    expect(replied).toBeGreaterThan(4);
    // Nothing between the greeting and the question: the agent waited for the caller.
    const greetingOnSent = result.heardSpeech[0]!;
    expect(
      result.heardSpeech.filter(
        (h) => h.start > greetingOnSent.end + 0.5 && h.start < asked[0]!.start,
      ),
    ).toEqual([]);
    expect(result.turns[0]!.latencyMs).toBeGreaterThan(0);
    expect(result.events.map((e) => e.type)).toEqual(
      expect.arrayContaining(['call.started', 'call.answered', 'call.ended', 'call.summary']),
    );
  }, 200_000);

  it('stack:down stops everything and removes the namespace; a second one has nothing to do', async () => {
    const run = await npmRun('stack:down');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('stopped the local stack');
    expect(await namespaces()).not.toContain(info.netns);
    for (const [name, pid] of Object.entries(info.pids)) {
      expect(alive(pid), `${name} (pid ${pid}) still runs`).toBe(false);
    }
    // Nothing of this stack runs anywhere: no process mentions its state folder or namespace.
    const { execFileSync } = await import('node:child_process');
    const ps = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' });
    expect(ps.split('\n').filter((l) => l.includes(stateDir) || l.includes(info.netns))).toEqual(
      [],
    );
    expect(existsSync(join(stateDir, 'stack.json'))).toBe(false);
    const again = await npmRun('stack:down');
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('not running');
  }, 60_000);
});
