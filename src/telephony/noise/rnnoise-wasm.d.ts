/** Types for @echogarden/rnnoise-wasm (an Emscripten build of xiph/rnnoise; ships none). */
declare module '@echogarden/rnnoise-wasm' {
  export interface RnnoiseModule {
    _rnnoise_get_frame_size(): number;
    /** `model` 0 = the built-in model. Returns a DenoiseState pointer. */
    _rnnoise_create(model: number): number;
    _rnnoise_destroy(state: number): void;
    /** Processes one frame (480 floats at 48 kHz, int16 scale); returns voice probability. */
    _rnnoise_process_frame(state: number, out: number, input: number): number;
    _malloc(bytes: number): number;
    _free(ptr: number): void;
    /** Re-read on every use: the view is replaced when the WASM memory grows. */
    HEAPF32: Float32Array;
  }
  export default function RNNoise(moduleArg?: Record<string, unknown>): Promise<RnnoiseModule>;
}
