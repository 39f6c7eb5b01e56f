import { bool, oneOf, str, url } from './settings-schema.js';

/** Settings every process shares: LiveKit access and logging. */
export const coreSettings = {
  LIVEKIT_URL: url({
    doc: 'LiveKit server URL (ws://, wss://, http:// or https://)',
    protocols: ['ws', 'wss', 'http', 'https'],
  }),
  LIVEKIT_API_KEY: str({ doc: 'LiveKit API key' }),
  LIVEKIT_API_SECRET: str({ doc: 'LiveKit API secret', secret: true }),
  LOG_LEVEL: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
    doc: 'pino log level',
    default: 'info',
  }),
  LOG_FULL_NUMBERS: bool({
    doc: 'Log full phone numbers instead of masking all but the last 4 digits',
    default: false,
  }),
} as const;
