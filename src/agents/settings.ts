import { bool, int, num, str, url } from '../core/settings-schema.js';

/** Settings of the agents and their model providers (src/agents). */
export const agentSettings = {
  AGENTS_CONFIG: str({
    doc: 'Path of the agents file (YAML or JSON): agents, tools, handoffs, routes',
    default: 'config/agents.example.yaml',
  }),
  MCP_TOOLS_CACHE_TTL_S: int({
    doc: "How long (s) a job process reuses an MCP server's tool list before listing it again at a call's start (a tools/list_changed notification re-lists at once)",
    default: 300,
    min: 0,
    max: 86_400,
  }),
  PHONE_DEFAULT_REGION: str({
    doc: 'Country (ISO 3166 alpha-2, e.g. US) used to read national-format numbers from carriers; unset = only international numbers are normalised',
    pattern: /^[A-Z]{2}$/,
    hint: 'a two-letter country code such as US or GB',
  }),
  DEEPGRAM_API_KEY: str({ doc: 'Deepgram API key (speech-to-text)', secret: true }),
  DEEPGRAM_MODEL: str({ doc: 'Deepgram model', default: 'nova-3' }),
  DEEPGRAM_LANGUAGE: str({ doc: 'Deepgram language code', default: 'en-US' }),
  DEEPGRAM_BASE_URL: url({
    doc: "Deepgram's websocket base URL (a regional or self-hosted Deepgram, or the local stack's stand-in); unset = wss://api.deepgram.com",
    protocols: ['ws', 'wss'],
  }),
  ELEVEN_API_KEY: str({ doc: 'ElevenLabs API key (text-to-speech)', secret: true }),
  ELEVEN_MODEL: str({ doc: 'ElevenLabs model', default: 'eleven_flash_v2_5' }),
  ELEVEN_BASE_URL: url({
    doc: "ElevenLabs' API base URL, ending in /v1 (a regional endpoint, or the local stack's stand-in); unset = https://api.elevenlabs.io/v1",
    protocols: ['http', 'https'],
  }),
  ELEVEN_VOICE_ID: str({
    doc: 'ElevenLabs voice id used when an agent names no voice',
    default: 'bIHbv24MWmeRgasZH58o',
  }),
  OPENAI_API_KEY: str({
    doc: 'API key of the OpenAI-compatible LLM server (may be any non-empty value for servers without auth)',
    secret: true,
  }),
  LLM_BASE_URL: url({
    doc: 'Base URL of any OpenAI-compatible chat-completions server; unset = api.openai.com',
    protocols: ['http', 'https'],
  }),
  LLM_MODEL: str({ doc: 'LLM model name', default: 'gpt-4.1-mini' }),
  LLM_TEMPERATURE: num({ doc: 'LLM sampling temperature', default: 0.4, min: 0, max: 2 }),
  VAD_SILENCE_GATE: bool({
    doc: "Run Silero only while there is sound on the caller's line (a level gate over the noise floor): the model is about half a call's CPU and callers are mostly silent (npm run bench:vad, bench:calls)",
    default: true,
  }),
  VAD_ACTIVATION_THRESHOLD: num({
    doc: 'Silero VAD speech probability threshold (phone lines: higher than the 0.5 default to ignore line noise)',
    default: 0.6,
    min: 0.05,
    max: 0.95,
  }),
} as const;
