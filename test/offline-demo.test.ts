/**
 * `npm run demo` on a machine without LiveKit, keys or network: the shipped scenario runs as a
 * simulated inbound call through the product's call job and session, and leaves a stereo
 * recording and a JSON timeline with the call's backchannel, interruption and handoff.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readWav } from '../src/core/wav.js';

const repoRoot = resolve(import.meta.dirname, '..');
const run = promisify(execFile);

interface Timeline {
  summary: {
    outcome: string;
    endedBy: string;
    durationMs: number;
    agents: string[];
    metrics: {
      interruptions: number;
      backchannelsIgnored: number;
      handoffs: { from?: string; to: string }[];
    };
  };
  timeline: Array<{
    t: number;
    type: string;
    text?: string;
    from?: string;
    to?: string;
    expect?: string;
  }>;
  checks: Array<{ expect: string; ok: boolean }>;
}

describe('npm run demo (offline call simulator)', () => {
  const out = mkdtempSync(join(tmpdir(), 'demo-'));
  let stdout = '';
  let doc: Timeline;

  beforeAll(async () => {
    // A clean environment: no LiveKit, no provider keys, no LLM server.
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      LOG_LEVEL: 'error',
    };
    const r = await run(process.execPath, ['--import', 'tsx', 'scripts/demo.ts', '--out', out], {
      cwd: repoRoot,
      env,
      timeout: 170_000,
      maxBuffer: 10 * 1024 * 1024,
    });
    stdout = r.stdout;
    doc = JSON.parse(readFileSync(join(out, 'timeline.json'), 'utf8')) as Timeline;
  }, 180_000);

  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('prints a readable timeline and a summary', () => {
    expect(stdout).toMatch(/caller\s+"Hi, I've got a question about my bill\."/);
    expect(stdout).toMatch(/handoff\s+receptionist → billing/);
    expect(stdout).toMatch(/ignored\s+backchannel "uh huh"/);
    expect(stdout).toMatch(/turn latency p50 \d+ ms/);
  });

  it('ignores the backchannel, stops for the real interruption and hands off to billing', () => {
    const types = doc.timeline.map((e) => e.type);
    expect(types).toContain('backchannel-ignored');
    expect(types).toContain('interruption');
    expect(doc.timeline).toContainEqual(
      expect.objectContaining({ type: 'handoff', from: 'receptionist', to: 'billing' }),
    );
    expect(doc.summary.metrics.backchannelsIgnored).toBe(1);
    expect(doc.summary.metrics.interruptions).toBe(1);
    expect(doc.summary.agents).toEqual(['receptionist', 'billing']);
    expect(doc.checks.map((c) => [c.expect, c.ok])).toEqual([
      ['ignore', true],
      ['interrupt', true],
    ]);
    // The interruption became the caller's next turn and got the scripted answer.
    const cut = doc.timeline.findIndex((e) => e.type === 'interruption');
    expect(
      doc.timeline
        .slice(cut)
        .some((e) => e.type === 'agent-message' && /two charges/.test(e.text ?? '')),
    ).toBe(true);
    expect(doc.summary.outcome).toBe('completed');
    // The goodbye comes with the end_call tool: the agent hangs up, not the caller.
    expect(doc.summary).toMatchObject({ endedBy: 'agent' });
  });

  it('writes the call as a stereo 8 kHz WAV: caller left, agent right', () => {
    const wav = readWav(join(out, 'call.wav'));
    expect(wav.sampleRate).toBe(8000);
    expect(wav.channels).toBe(2);
    const seconds = wav.samples.length / 2 / 8000;
    expect(Math.abs(seconds * 1000 - doc.summary.durationMs)).toBeLessThan(3000);
    // Both sides are audible: the caller's clips on the left, the agent's speech on the right.
    let left = 0;
    let right = 0;
    for (let i = 0; i < wav.samples.length; i += 2) {
      left += Math.abs(wav.samples[i]!);
      right += Math.abs(wav.samples[i + 1]!);
    }
    expect(left / (wav.samples.length / 2)).toBeGreaterThan(20);
    expect(right / (wav.samples.length / 2)).toBeGreaterThan(200);
  });
});

describe('npm run demo with a scenario that names a missing clip', () => {
  it('stops before the call with one line per missing file, naming where the scenario says it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'demo-bad-'));
    try {
      const scenario = JSON.parse(readFileSync(join(repoRoot, 'examples/demo-call.json'), 'utf8'));
      scenario.caller[1].audio = ['clips/not-there.wav'];
      scenario.agentsFile = join(repoRoot, 'config/agents.example.yaml');
      const file = join(dir, 'scenario.json');
      writeFileSync(file, JSON.stringify(scenario, null, 2));
      const err = await run(process.execPath, ['--import', 'tsx', 'scripts/demo.ts', file], {
        cwd: repoRoot,
        env: { PATH: process.env.PATH, HOME: process.env.HOME },
        timeout: 60_000,
      }).then(
        () => undefined,
        (e: { code: number; stderr: string }) => e,
      );
      expect(err?.code).toBe(2);
      expect(err?.stderr).toMatch(
        /scenario\.json:\d+:\d+: caller\[1\]\.audio\[0\]: file not found: clips\/not-there\.wav/,
      );
      expect(err?.stderr).not.toMatch(/ at .*\.ts:\d+/); // one line, no stack trace
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
