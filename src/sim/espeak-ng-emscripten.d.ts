/** Types for @echogarden/espeak-ng-emscripten (an Emscripten build of eSpeak NG; ships none). */
declare module '@echogarden/espeak-ng-emscripten' {
  export interface EspeakEvent {
    type: string;
    text_position: number;
    word_length: number;
    audio_position: number;
  }
  export interface ESpeakNGWorker {
    /** Voice name, optionally with a variant: `en-us`, `en-us+f3`. Returns 0 on success. */
    set_voice(name: string): number;
    /** Words per minute (80–450). */
    set_rate(wpm: number): void;
    /** 0–100. */
    set_pitch(pitch: number): void;
    readonly samplerate: number;
    /** Calls `callback` with chunks of 16-bit mono PCM at `samplerate`; return true to stop. */
    synthesize(text: string, callback: (pcm: Int16Array, events: EspeakEvent[]) => boolean): void;
  }
  export interface EspeakModule {
    eSpeakNGWorker: new () => ESpeakNGWorker;
  }
  export default function createEspeak(moduleArg?: Record<string, unknown>): Promise<EspeakModule>;
}
