/**
 * The agents area, as the worker uses it:
 *
 *   const codeTools = defaultCodeTools();                      // + register your own
 *   const file = loadAgentsFile(config.AGENTS_CONFIG, { codeToolNames: codeTools.names() });
 *   const call = buildCallContext({ attributes: participant.attributes, jobMetadata, ... });
 *   const decision = route(file, call);                        // { agent } | { refuse }
 *   const factory = createAgentFactory({ config: file, codeTools, call, models: agentModels(config) });
 *   const session = new voice.AgentSession<PhoneSessionData>({
 *     userData: createSessionData(call), vad, turnDetection: createTurnDetector(), ...sessionModels(config) });
 *   await session.start({ agent: factory.create(decision.agent), room });
 */
export {
  type AgentSpec,
  type AgentsConfig,
  type AgentsFileIssue,
  type DtmfSpec,
  formatPath,
  type HandoffSpec,
  type HttpToolSpec,
  handoffToolName,
  loadAgentsFile,
  parseAgentsFile,
  type RouteMatch,
  type RouteSpec,
  type TransferSpec,
  type VoicemailSpec,
} from './agents-file.js';
export {
  type CodeTool,
  CodeToolRegistry,
  currentDateTimeTool,
  defaultCodeTools,
} from './code-tools.js';
export { carriedHistory, createHandoffTool, handoffDefaults } from './handoff.js';
export { createHttpTool, httpToolDefaults } from './http-tools.js';
export {
  type AgentFactory,
  type AgentFactoryOptions,
  type AgentModels,
  createAgentFactory,
  PhoneAgent,
  type PhoneAgentOptions,
  type SpeechFilter,
} from './phone-agent.js';
export { createSpeakableFilter, PHONE_RULES, phoneInstructions, speakable } from './prompts.js';
export {
  agentModels,
  createLLM,
  createSTT,
  createTTS,
  createTurnDetector,
  loadVAD,
  PHONE_SAMPLE_RATE,
  type ProviderSettings,
  phoneVadDefaults,
  sessionModels,
} from './providers.js';
export { createSessionData, type PhoneSessionData } from './session-data.js';
