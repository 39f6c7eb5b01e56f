import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeWav } from '../src/core/wav.js';
import { loadScenarios } from '../src/eval/scenarios.js';

const corpus = resolve(import.meta.dirname, '../fixtures/interruptions');
const dirs: string[] = [];

function folder(files: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'scenarios-'));
  dirs.push(dir);
  mkdirSync(join(dir, 'clips'));
  writeFileSync(
    join(dir, 'clips', 'a.wav'),
    encodeWav({ sampleRate: 8000, channels: 1, samples: new Int16Array(800).fill(1000) }),
  );
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));
  }
  return dir;
}

const good = {
  agent: { text: 'Let me explain.', duration_ms: 4000 },
  caller: [{ at_ms: 1000, audio: 'clips/a.wav', transcript: 'uh huh', expect: 'ignore' }],
};

afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('interruption scenario files', () => {
  it('loads the public corpus (54 scenarios, nested folders, 8 kHz clips)', () => {
    const scenarios = loadScenarios(corpus);
    expect(scenarios).toHaveLength(54);
    const kinds = new Set(scenarios.flatMap((s) => s.caller.map((e) => e.expect)));
    expect(kinds).toEqual(new Set(['ignore', 'interrupt', 'respond']));
    for (const s of scenarios)
      for (const e of s.caller) expect(e.samples.length).toBeGreaterThan(0);
  });

  it('names the file, position and field of a bad value', () => {
    const dir = folder({
      'sub/bad.json': {
        ...good,
        caller: [{ ...good.caller[0], audio: '../clips/a.wav', expect: 'ignored' }],
      },
    });
    expect(() => loadScenarios(dir)).toThrowError(
      /sub\/bad\.json:1:\d+: caller\[0\]\.expect: must be one of ignore, interrupt, respond/,
    );
  });

  it('names the file and the field of a missing value', () => {
    const dir = folder({ 'x.json': { ...good, agent: { text: 'hi' } } });
    expect(() => loadScenarios(dir)).toThrowError(/x\.json:1:\d+: agent\.duration_ms: is required/);
  });

  it('names a clip that cannot be read', () => {
    const dir = folder({
      'x.json': { ...good, caller: [{ ...good.caller[0], audio: 'clips/missing.wav' }] },
    });
    expect(() => loadScenarios(dir)).toThrowError(
      /x\.json:\d+:\d+: caller\[0\]\.audio: cannot be used \(file not found/,
    );
    const dir2 = folder({
      'y.json': { ...good, caller: [{ ...good.caller[0], audio: 'clips/bad.wav' }] },
      'clips/bad.wav': 'not audio',
    });
    expect(() => loadScenarios(dir2)).toThrowError(
      /y\.json:\d+:\d+: caller\[0\]\.audio: cannot be used \(.*not a RIFF\/WAVE file/,
    );
  });

  it('rejects invalid JSON, events out of order, unknown noise and duplicate ids', () => {
    expect(() => loadScenarios(folder({ 'x.json': '{ nope' }))).toThrowError(/x\.json:1:\d+: /);
    const late = { ...good.caller[0], at_ms: 500 };
    expect(() =>
      loadScenarios(folder({ 'x.json': { ...good, caller: [good.caller[0], late] } })),
    ).toThrowError(/x\.json:1:\d+: caller\[1\]\.at_ms: must not be earlier/);
    expect(() =>
      loadScenarios(folder({ 'x.json': { ...good, noise: { kind: 'purple', snr_db: 10 } } })),
    ).toThrowError(/x\.json:1:\d+: noise\.kind: must be one of white, pink, brown/);
    expect(() =>
      loadScenarios(
        folder({ 'a.json': { ...good, id: 'same' }, 'b.json': { ...good, id: 'same' } }),
      ),
    ).toThrowError(/b\.json: id: "same" is also used by a\.json/);
  });

  it('reads explicit STT results and names a malformed one by line and field', () => {
    const stt = [
      { after_ms: 300, text: 'uh' },
      { after_ms: 700, text: 'Uh-huh.', final: true, confidence: 0.7 },
    ];
    const [s] = loadScenarios(
      folder({ 'x.json': { ...good, caller: [{ ...good.caller[0], stt }] } }),
    );
    expect(s?.caller[0]?.stt).toEqual([
      { afterMs: 300, text: 'uh' },
      { afterMs: 700, text: 'Uh-huh.', final: true, confidence: 0.7 },
    ]);
    // Pretty-printed, so each problem has its own line.
    const bad = JSON.stringify(
      {
        ...good,
        caller: [
          {
            ...good.caller[0],
            stt: [
              { after_ms: 400, text: 'uh' },
              { after_ms: 200, text: 'uh huh', confidence: 1.5 },
              { text: 'x' },
            ],
          },
        ],
      },
      null,
      2,
    );
    let message = '';
    try {
      loadScenarios(folder({ 'y.json': bad }));
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(
      /y\.json:\d+:\d+: caller\[0\]\.stt\[1\]\.confidence: must be at most 1/,
    );
    expect(message).toMatch(/y\.json:\d+:\d+: caller\[0\]\.stt\[2\]\.after_ms: is required/);
    // Every problem of the file at once, each on its own line with its position.
    expect(
      message.split('\n').filter((l) => l.startsWith('y.json:')).length,
    ).toBeGreaterThanOrEqual(2);
    const order = folder({
      'z.json': { ...good, caller: [{ ...good.caller[0], stt: [stt[1], stt[0]] }] },
    });
    expect(() => loadScenarios(order)).toThrowError(
      /z\.json:1:\d+: caller\[0\]\.stt\[1\]\.after_ms: must not be earlier than the previous result \(700 ms\)/,
    );
  });

  it('loads the STT corpus (13 scenarios, each sound with its STT results)', () => {
    const scenarios = loadScenarios(resolve(import.meta.dirname, '../fixtures/interruptions-stt'));
    expect(scenarios).toHaveLength(13);
    expect(scenarios.every((s) => s.caller.every((e) => Array.isArray(e.stt)))).toBe(true);
    expect(new Set(scenarios.map((s) => s.group))).toEqual(
      new Set(['backchannel', 'interrupt', 'noise', 'respond']),
    );
  });

  it('accepts extra fields and defaults the id and deadline', () => {
    const [s] = loadScenarios(
      folder({
        'deep/one.json': {
          ...good,
          source: 'recording',
          caller: [{ ...good.caller[0], audio: '../clips/a.wav', voice: 'x' }],
        },
      }),
    );
    expect(s?.id).toBe('deep/one');
    expect(s?.caller[0]?.deadlineMs).toBe(1500);
  });
});
