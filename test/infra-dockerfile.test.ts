/**
 * The Dockerfile, linted and checked for its invariants (no Docker engine runs here, so the
 * image cannot be built in tests): multi-stage, offline-safe installs, production dependencies
 * only, non-root, signals to Node, models in the image, nothing secret in the build context.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import dockerignore from '@balena/dockerignore';
import {
  type Copy,
  DockerfileParser,
  type Instruction,
  type JSONInstruction,
} from 'dockerfile-ast';
import { ValidationSeverity, validate } from 'dockerfile-utils';
import { describe, expect, it } from 'vitest';
import { secretSettingNames } from '../src/core/config.js';
import { repoRoot } from './support/infra/manifests.js';

const text = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
const dockerfile = DockerfileParser.parse(text);
const instructions = dockerfile.getInstructions();

/** Instructions grouped by build stage (name → instructions after its FROM). */
const stages: { name: string; from: string; body: Instruction[] }[] = [];
for (const ins of instructions) {
  const keyword = ins.getKeyword();
  if (keyword === 'FROM') {
    const args = ins.getArguments().map((a) => a.getValue());
    stages.push({ name: args[2] ?? String(stages.length), from: args[0]!, body: [] });
  } else if (stages.length > 0) {
    stages.at(-1)!.body.push(ins);
  }
}
const finalStage = stages.at(-1)!;
const globalArgs = Object.fromEntries(
  dockerfile.getARGs().map((a) => [a.getProperty()!.getName(), a.getProperty()!.getValue() ?? '']),
);
const expand = (s: string) =>
  s.replace(/\$\{?(\w+)\}?/g, (_, n: string) => globalArgs[n] ?? `$${n}`);
const runs = (stage: (typeof stages)[number]) =>
  stage.body.filter((i) => i.getKeyword() === 'RUN').map((i) => i.getArgumentsContent() ?? '');
const envOf = (stage: (typeof stages)[number]) =>
  Object.fromEntries(
    stage.body
      .filter((i) => i.getKeyword() === 'ENV')
      .flatMap((i) =>
        (
          i as unknown as { getProperties(): { getName(): string; getValue(): string | null }[] }
        ).getProperties(),
      )
      .map((p) => [p.getName(), p.getValue() ?? '']),
  );

describe('Dockerfile', () => {
  it('passes the Dockerfile linter with every rule as an error', () => {
    const E = ValidationSeverity.ERROR;
    const problems = validate(text, {
      deprecatedMaintainer: E,
      directiveCasing: E,
      emptyContinuationLine: E,
      instructionCasing: E,
      instructionCmdMultiple: E,
      instructionEntrypointMultiple: E,
      instructionHealthcheckMultiple: E,
      instructionJSONInSingleQuotes: E,
      instructionWorkdirRelative: E,
    });
    expect(problems.map((p) => `${p.range.start.line + 1}: ${p.message}`)).toEqual([]);
  });

  it('builds in stages from one pinned glibc Node image', () => {
    expect(stages.length).toBeGreaterThanOrEqual(3);
    expect(new Set(stages.map((s) => s.name)).size).toBe(stages.length);
    for (const s of stages) {
      const image = expand(s.from);
      expect(image, s.name).toMatch(
        /^node:20\.\d+\.\d+-(bookworm|trixie)-slim(@sha256:[0-9a-f]{64})?$/,
      );
    }
  });

  it('installs with ONNXRUNTIME_NODE_INSTALL=skip and npm ci, never npm install', () => {
    let installs = 0;
    for (const s of stages) {
      for (const run of runs(s)) {
        expect(run, `${s.name}: ${run}`).not.toMatch(/\bnpm (install|i)\b/);
        if (/\bnpm ci\b/.test(run)) {
          installs++;
          const skip =
            envOf(s).ONNXRUNTIME_NODE_INSTALL === 'skip' ||
            /ONNXRUNTIME_NODE_INSTALL=skip/.test(run);
          expect(skip, `${s.name}: ${run}`).toBe(true);
        }
      }
    }
    expect(installs).toBeGreaterThanOrEqual(2);
  });

  it('ships production dependencies only', () => {
    expect(runs(finalStage).some((r) => /\bnpm\b/.test(r))).toBe(false);
    const copies = finalStage.body.filter((i) => i.getKeyword() === 'COPY') as Copy[];
    const fromStage = (dest: string) => {
      const c = copies.find((x) => x.getArguments().at(-1)?.getValue().replace(/\/$/, '') === dest);
      return c?.getFromFlag()?.getValue();
    };
    const depsStage = stages.find((s) => s.name === fromStage('./node_modules'));
    expect(depsStage, 'node_modules copied from a stage').toBeDefined();
    expect(runs(depsStage!).some((r) => /\bnpm ci\b.*--omit=dev/.test(r))).toBe(true);
    const buildStage = stages.find((s) => s.name === fromStage('./dist'));
    expect(runs(buildStage!).some((r) => /\bnpm run build\b/.test(r))).toBe(true);
    // The build output maps src/<x>.ts to dist/<x>.js, which the manifests run.
    const tsconfig = JSON.parse(readFileSync(join(repoRoot, 'tsconfig.build.json'), 'utf8'));
    expect(tsconfig.compilerOptions).toMatchObject({ rootDir: 'src', outDir: 'dist' });
    expect(existsSync(join(repoRoot, 'src/api/main.ts'))).toBe(true);
  });

  it('runs as a numeric non-root user', () => {
    const users = finalStage.body.filter((i) => i.getKeyword() === 'USER');
    expect(users.length).toBeGreaterThan(0);
    const [uid, gid] = users.at(-1)!.getArgumentsContent()!.split(':');
    expect(Number(uid)).toBeGreaterThan(0);
    expect(gid === undefined || Number(gid) > 0).toBe(true);
  });

  it('hands signals to Node: exec-form tini entrypoint, node command', () => {
    const entry = finalStage.body.find((i) => i.getKeyword() === 'ENTRYPOINT') as JSONInstruction;
    const cmd = finalStage.body.find((i) => i.getKeyword() === 'CMD') as JSONInstruction;
    const words = (i: JSONInstruction) => i.getJSONStrings().map((s) => s.getJSONValue());
    expect(words(entry)).toEqual(['/usr/bin/tini', '--']);
    expect(words(cmd)).toEqual(['node', 'dist/api/main.js']);
  });

  it('pins, trims and cleans up its apt packages', () => {
    for (const s of stages) {
      for (const run of runs(s).filter((r) => /apt-get install/.test(r))) {
        expect(run).toMatch(/--no-install-recommends/);
        expect(run).toMatch(/rm -rf \/var\/lib\/apt\/lists/);
        const pkgs = run
          .split(/apt-get install/)[1]!
          .split('&&')[0]!
          .split(/\s+/)
          .filter((w) => w && !w.startsWith('-') && w !== '\\');
        for (const p of pkgs) expect(p, `apt package ${p} pinned`).toMatch(/^[\w.+-]+=[\w.:+~-]+$/);
      }
    }
  });

  it('puts the run-time models in the image and checks they load there', () => {
    const verify = 'infra/image/verify-runtime-files.mjs';
    const body = finalStage.body.map((i) => `${i.getKeyword()} ${i.getArgumentsContent()}`);
    const copied = body.findIndex((l) => l.startsWith('COPY') && l.includes(verify));
    const ran = body.indexOf(`RUN node ${verify}`);
    const modules = body.findIndex((l) => l.startsWith('COPY') && l.includes('node_modules'));
    expect(copied).toBeGreaterThan(modules);
    expect(ran).toBeGreaterThan(copied);
    // The model packages are production dependencies, so `npm ci --omit=dev` keeps them, with
    // the turn detector's native addon locked for both image architectures.
    const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')).packages;
    for (const p of [
      '@livekit/agents-plugin-silero',
      '@livekit/local-inference',
      '@livekit/local-inference-linux-x64-gnu',
      '@livekit/local-inference-linux-arm64-gnu',
      'onnxruntime-node',
    ]) {
      expect(lock[`node_modules/${p}`], p).toBeDefined();
      expect(lock[`node_modules/${p}`].dev, `${p} is a production dependency`).toBeUndefined();
    }
    // The same check the image build runs, on this machine's node_modules.
    const out = execFileSync(process.execPath, [join(repoRoot, verify), repoRoot], {
      encoding: 'utf8',
    });
    expect(out).toMatch(/verify-runtime-files: ok/);
  });

  it('keeps secrets out of the image and the build context', () => {
    for (const i of instructions.filter((x) => ['ENV', 'ARG'].includes(x.getKeyword()))) {
      const content = i.getArgumentsContent() ?? '';
      for (const name of secretSettingNames) expect(content, i.getKeyword()).not.toContain(name);
      expect(content).not.toMatch(/(PASSWORD|SECRET|TOKEN|API_KEY)/);
    }
    // A CommonJS module whose factory is also its own `default` (what the types describe).
    const ig = dockerignore.default().add(readFileSync(join(repoRoot, '.dockerignore'), 'utf8'));
    for (const ins of instructions.filter((x) => x.getKeyword() === 'COPY') as Copy[]) {
      if (ins.getFromFlag()) continue;
      for (const src of ins
        .getArguments()
        .slice(0, -1)
        .map((a) => a.getValue())) {
        expect(existsSync(join(repoRoot, src)), `${src} exists`).toBe(true);
        expect(ig.ignores(src), `${src} is in the build context`).toBe(false);
      }
    }
    for (const p of [
      '.env.local',
      '.env',
      'node_modules/x/index.js',
      'dist/api/main.js',
      '.git/config',
      'test/a.test.ts',
      'infra/base/kustomization.yaml',
    ]) {
      expect(ig.ignores(p), `${p} stays out of the build context`).toBe(true);
    }
  });
});
