/** Settings of the agents and their model providers (src/agents). */
export const agentSettings = {} as const;
