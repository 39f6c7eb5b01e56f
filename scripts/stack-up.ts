/**
 * `npm run stack:up [-- --number +E164 --agent NAME --agents-file FILE --api-port N --standins FILE]`
 *
 * Brings the whole product up on this machine and leaves it running in the background: Redis,
 * the LiveKit server and SIP bridge in a network namespace, our API and worker, the provider
 * stand-ins (or the real providers whose keys are in the environment), an inbound trunk and a
 * number routed to an agent. Builds the pinned LiveKit binaries first (stack/build.sh: ~4 min the
 * first time, then ~1 s). Starts the supervisor (stack/local/supervisor.ts) detached, waits until
 * it wrote `.stack/stack.json`, prints how to call, and returns. `npm run stack:down` stops it.
 */
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import {
  alive,
  clearState,
  type LocalStackInfo,
  readInfo,
  statePaths,
  supervisorPid,
} from '../stack/local/state.js';
import { namespaces, namespacesOwnedBy, REPO_ROOT, removeNetns, sleep } from '../stack/netns.js';

const START_TIMEOUT_MS = 6 * 60_000;

function fail(message: string): never {
  process.stderr.write(`stack:up: ${message}\n`);
  process.exit(1);
}

const rel = (p: string) => {
  const r = relative(process.cwd(), p);
  return r.startsWith('..') ? p : r;
};

export function describeStack(info: LocalStackInfo): string {
  const providers = [
    `STT ${info.providers.stt}`,
    `TTS ${info.providers.tts}`,
    `LLM ${info.providers.llm}`,
  ].join(', ');
  const standIns = Object.values(info.providers).includes('stand-in');
  return [
    `The local stack is up (namespace ${info.netns}, supervisor pid ${info.pids.supervisor}).`,
    '',
    `  number     ${info.number} → agent "${info.agent}" (${rel(info.agentsFile)})`,
    `  SIP        ${info.sipUri}  (UDP/TCP, inside ${info.netns})`,
    `  API        ${info.apiUrl}  (Authorization: Bearer ${info.apiKey})`,
    `  LiveKit    ${info.livekitUrl}  (key ${info.livekitApiKey})`,
    `  providers  ${providers}${standIns ? '  (stand-ins: set DEEPGRAM_API_KEY / ELEVEN_API_KEY / OPENAI_API_KEY or LLM_BASE_URL for real ones)' : ''}`,
    `  state      ${rel(statePaths().info)} · logs ${rel(info.logsDir)}/ · ${rel(info.supervisorLog)}`,
    '',
    'Call the agent:',
    '  npm run stack:call                       # the bundled phone: says examples/caller/question.wav, records what it hears',
    '  npm run stack:call -- --say "I have a question about my bill" --out out/my-call',
    '',
    `  Any softphone: dial ${info.sipUri} (no registration; G.711 µ-law/A-law).`,
    `  The bridge is inside the namespace, so run the softphone there:`,
    `    ip netns exec ${info.netns} baresip                        (then: /dial ${info.sipUri})`,
    `  or run it on this machine bound to the veth's host end ${info.hostIp} (its SDP must offer that address),`,
    `    e.g. baresip with "sip_listen ${info.hostIp}:5070" and "net_interface ${info.hostIp}" in its config.`,
    ...(info.providers.stt === 'stand-in'
      ? [
          '  With the STT stand-in the agent cannot understand a human: it hears every utterance as',
          '  "unscripted caller speech" (POST /_standin/stt/script, or stack:call --say, scripts it).',
        ]
      : []),
    '',
    `API: curl -H 'authorization: Bearer ${info.apiKey}' ${info.apiUrl}/v1/numbers`,
    'Stop: npm run stack:down',
  ].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      number: { type: 'string' },
      agent: { type: 'string' },
      'agents-file': { type: 'string' },
      'api-port': { type: 'string' },
      standins: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(
      'usage: npm run stack:up [-- --number +E164] [--agent NAME] [--agents-file FILE] [--api-port N] [--standins FILE]\n',
    );
    return;
  }
  if (process.getuid?.() !== 0) {
    fail('needs root: the stack runs in a network namespace (ip netns); run it with sudo');
  }
  if (values.number !== undefined && !/^\+[1-9]\d{6,14}$/.test(values.number)) {
    fail(`--number ${values.number}: not an E.164 number (+ and 7 to 15 digits)`);
  }
  const port = values['api-port'];
  if (
    port !== undefined &&
    !(Number.isInteger(Number(port)) && Number(port) > 0 && Number(port) < 65536)
  ) {
    fail(`--api-port ${port}: not a port number`);
  }
  for (const f of [values['agents-file'], values.standins]) {
    try {
      if (f) readFileSync(f);
    } catch {
      fail(`${f}: no such file`);
    }
  }

  const paths = statePaths();
  const running = readInfo();
  if (running && alive(running.pids.supervisor)) {
    process.stdout.write(`Already running.\n\n${describeStack(running)}\n`);
    return;
  }
  const starting = supervisorPid();
  if (!running && alive(starting)) {
    fail(`another stack:up is starting it (supervisor pid ${starting}); see ${rel(paths.log)}`);
  }
  // Left over by a supervisor that died: its namespace, then the state files.
  const dead = running?.pids.supervisor ?? starting;
  if (dead) {
    const current = await namespaces();
    for (const ns of new Set([running?.netns, ...namespacesOwnedBy(dead)])) {
      if (ns && current.includes(ns)) await removeNetns(ns);
    }
    clearState();
  }

  // The pinned LiveKit server and SIP bridge (and Debian packages): ~4 min the first time.
  try {
    execFileSync('bash', [join(REPO_ROOT, 'stack', 'build.sh')], { stdio: 'inherit' });
  } catch {
    fail('stack/build.sh failed (see above)');
  }

  mkdirSync(paths.dir, { recursive: true });
  const out = openSync(paths.log, 'a');
  const args: string[] = [];
  for (const key of ['number', 'agent', 'agents-file', 'api-port', 'standins'] as const) {
    if (values[key] !== undefined) args.push(`--${key}`, String(values[key]));
  }
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(REPO_ROOT, 'stack', 'local', 'supervisor.ts'), ...args],
    { cwd: REPO_ROOT, detached: true, stdio: ['ignore', out, out], env: process.env },
  );
  closeSync(out);
  child.unref();
  const logStart = (() => {
    try {
      return readFileSync(paths.log).length;
    } catch {
      return 0;
    }
  })();
  process.stdout.write(
    `starting the local stack (supervisor pid ${child.pid}, log ${rel(paths.log)})\n`,
  );

  // Echo the supervisor's own lines while waiting for stack.json.
  let shown = logStart;
  const echo = () => {
    let text = '';
    try {
      text = readFileSync(paths.log).subarray(shown).toString('utf8');
    } catch {}
    const end = text.lastIndexOf('\n') + 1;
    shown += Buffer.byteLength(text.slice(0, end));
    for (const line of text.slice(0, end).split('\n')) {
      const m = / supervisor: (.*)$/.exec(line);
      if (m) process.stdout.write(`  ${m[1]}\n`);
    }
  };
  const deadline = Date.now() + START_TIMEOUT_MS;
  let exited: number | null | undefined;
  child.once('exit', (code) => {
    exited = code;
  });
  for (;;) {
    echo();
    const info = readInfo();
    if (info && info.pids.supervisor === child.pid) {
      process.stdout.write(`\n${describeStack(info)}\n`);
      return;
    }
    if (exited !== undefined || !alive(child.pid ?? 0)) {
      const tail = readFileSync(paths.log, 'utf8')
        .slice(logStart)
        .split('\n')
        .slice(-25)
        .join('\n');
      fail(`the supervisor exited while starting; the end of ${rel(paths.log)}:\n${tail}`);
    }
    if (Date.now() > deadline) {
      process.kill(child.pid!, 'SIGTERM');
      fail(`not up after ${START_TIMEOUT_MS / 60_000} min; see ${rel(paths.log)} (stopping it)`);
    }
    await sleep(250);
  }
}

main()
  .then(() => process.exit(0))
  .catch((err: unknown) => fail((err as Error).message));
