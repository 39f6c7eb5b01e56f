/**
 * Tools written in code, referenced by name from the agents file (`agents[].tools`). Register
 * them before the agents file is loaded so the loader can check every name. Other areas (e.g.
 * telephony's transfer/DTMF/end-call tools) register theirs into the same registry.
 */
import { llm } from '@livekit/agents';
import type { PhoneSessionData } from './session-data.js';

// biome-ignore lint/suspicious/noExplicitAny: tools take any argument and result types
export type CodeTool = llm.FunctionTool<any, PhoneSessionData, any>;

export class CodeToolRegistry {
  readonly #tools = new Map<string, CodeTool>();

  constructor(tools: readonly CodeTool[] = []) {
    for (const t of tools) this.register(t);
  }

  /** Adds a tool; a second tool with the same name is a programming error. */
  register(tool: CodeTool): this {
    if (this.#tools.has(tool.name)) throw new Error(`code tool "${tool.name}" registered twice`);
    this.#tools.set(tool.name, tool);
    return this;
  }

  get(name: string): CodeTool | undefined {
    return this.#tools.get(name);
  }

  has(name: string): boolean {
    return this.#tools.has(name);
  }

  names(): string[] {
    return [...this.#tools.keys()];
  }
}

/** Tells the date and time where the business is, so the agent never guesses "today". */
export const currentDateTimeTool: CodeTool = llm.tool({
  name: 'current_date_time',
  description:
    'Returns the current date, weekday and time. Use it before talking about today, tomorrow, opening hours or appointments.',
  parameters: {
    type: 'object',
    properties: {
      timeZone: {
        type: 'string',
        description: 'IANA time zone such as America/New_York; omit for the server time zone',
      },
    },
  },
  execute: async (args: { timeZone?: string }) => {
    const now = new Date();
    let timeZone = args.timeZone;
    try {
      new Intl.DateTimeFormat('en-US', { timeZone }).format(now);
    } catch {
      timeZone = undefined;
    }
    const fmt = (o: Intl.DateTimeFormatOptions) =>
      new Intl.DateTimeFormat('en-US', { ...o, timeZone }).format(now);
    return {
      date: fmt({ year: 'numeric', month: 'long', day: 'numeric' }),
      weekday: fmt({ weekday: 'long' }),
      time: fmt({ hour: 'numeric', minute: '2-digit' }),
      timeZone: timeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone,
    };
  },
});

/** A registry with the built-in tools; the worker adds its own before loading the file. */
export function defaultCodeTools(): CodeToolRegistry {
  return new CodeToolRegistry([currentDateTimeTool]);
}
