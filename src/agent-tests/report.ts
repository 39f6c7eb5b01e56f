/**
 * Reports of a conversation-test run: readable text (per case and turn, with the transcript of
 * every failed case) and JUnit XML for CI systems.
 */
import type { CaseResult } from './run-case.js';
import type { FileResult, RunResult } from './runner.js';

/** The header line of a test file. */
export function formatFileHeader(f: FileResult): string {
  return `${f.shown}${f.agentsFile ? `  (agents file: ${f.agentsFile})` : ''}`;
}

/** A file that could not run: its problems, indented. */
export function formatFileError(f: FileResult): string {
  return `  ✗ cannot run this file:\n${indent(f.error ?? '', 6)}`;
}

/** One case: a line, and for a failure what went wrong per turn plus the transcript. */
export function formatCase(r: CaseResult): string {
  const lines = [`  ${r.ok ? '✓' : '✗'} ${r.name}  (${seconds(r.durationMs)})`];
  for (const t of r.turns) {
    if (t.judge?.verdict === 'skipped') {
      lines.push(`      judgement not made at ${turnName(t)}: ${t.judge.reason}`);
    }
  }
  if (r.ok) return lines.join('\n');
  for (const t of r.turns) {
    if (t.failures.length === 0) continue;
    lines.push(`      ${turnName(t)} – ${t.label}:`);
    for (const f of t.failures) lines.push(`        - ${f}`);
  }
  lines.push('      transcript:');
  for (const l of r.transcript) lines.push(`        ${l}`);
  return lines.join('\n');
}

export function formatSummary(r: RunResult): string {
  const errors = r.files.filter((f) => f.error).length;
  const parts = [`${r.passed} passed`, `${r.failed - errors} failed`];
  if (errors) parts.push(`${errors} test file${errors === 1 ? '' : 's'} could not run`);
  return `${parts.join(', ')}  (${r.files.length} file${r.files.length === 1 ? '' : 's'}, ${seconds(r.durationMs)}, LLM: ${r.llm})`;
}

/** JUnit XML: one testsuite per test file, one testcase per case. */
export function junitXml(r: RunResult): string {
  const out = ['<?xml version="1.0" encoding="UTF-8"?>'];
  const cases = r.files.flatMap((f) => f.cases);
  const fileErrors = r.files.filter((f) => f.error).length;
  out.push(
    `<testsuites name="agent conversation tests" tests="${cases.length + fileErrors}" failures="${cases.filter((c) => !c.ok).length}" errors="${fileErrors}" time="${secs(r.durationMs)}">`,
  );
  for (const f of r.files) {
    const failures = f.cases.filter((c) => !c.ok).length;
    const time = f.cases.reduce((n, c) => n + c.durationMs, 0);
    out.push(
      `  <testsuite name="${attr(f.shown)}" tests="${f.cases.length + (f.error ? 1 : 0)}" failures="${failures}" errors="${f.error ? 1 : 0}" skipped="0" time="${secs(time)}">`,
    );
    if (f.error) {
      const first = f.error.split('\n').find((l) => l.trim()) ?? 'cannot run';
      out.push(`    <testcase classname="${attr(f.shown)}" name="(test file)" time="0">`);
      out.push(
        `      <error message="${attr(first)}" type="InvalidTestFile">${text(f.error)}</error>`,
      );
      out.push('    </testcase>');
    }
    for (const c of f.cases) {
      out.push(
        `    <testcase classname="${attr(f.shown)}" name="${attr(c.name)}" time="${secs(c.durationMs)}">`,
      );
      if (!c.ok) {
        const details = c.turns
          .filter((t) => t.failures.length > 0)
          .flatMap((t) => [`${turnName(t)} – ${t.label}:`, ...t.failures.map((x) => `  - ${x}`)]);
        const first = c.turns.flatMap((t) => t.failures)[0] ?? 'failed';
        out.push(
          `      <failure message="${attr(first)}" type="ConversationExpectation">${text(
            [...details, '', 'transcript:', ...c.transcript.map((l) => `  ${l}`)].join('\n'),
          )}</failure>`,
        );
      }
      out.push(`      <system-out>${text(c.transcript.join('\n'))}</system-out>`);
      out.push('    </testcase>');
    }
    out.push('  </testsuite>');
  }
  out.push('</testsuites>');
  return `${out.join('\n')}\n`;
}

function turnName(t: { index: number }): string {
  return t.index === 0 ? 'call start' : `turn ${t.index}`;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function secs(ms: number): string {
  return (ms / 1000).toFixed(3);
}

function indent(s: string, n: number): string {
  return s
    .split('\n')
    .map((l) => `${' '.repeat(n)}${l}`)
    .join('\n');
}

/** XML-safe text (control characters the XML spec forbids are dropped). */
function text(s: string): string {
  return (
    s
      // biome-ignore lint/suspicious/noControlCharactersInRegex: removing what XML 1.0 forbids
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '')
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
  );
}

function attr(s: string): string {
  return text(s).replace(/"/g, '&quot;').replace(/\n/g, '&#10;');
}
