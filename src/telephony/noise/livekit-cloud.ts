/**
 * LiveKit Cloud's telephony noise cancellation (`TelephonyBackgroundVoiceCancellation` from
 * @livekit/noise-cancellation-node). It is a filter LiveKit's native layer runs on the caller's
 * track with LiveKit Cloud credentials; against a self-hosted server it does nothing. The
 * package (~100 MB of native libraries per platform) is therefore not a dependency: install it
 * only where `NOISE_SUPPRESSION=livekit-cloud` is used (`npm install
 * @livekit/noise-cancellation-node@0.2` — it installs from the npm registry alone).
 */
import type { NoiseCancellationOptions } from '@livekit/rtc-node';
import { NoiseSuppressionUnavailableError } from '../../core/errors.js';

export const LIVEKIT_NC_PACKAGE = '@livekit/noise-cancellation-node';

interface LiveKitNcModule {
  TelephonyBackgroundVoiceCancellation(): NoiseCancellationOptions;
}

/** The room-input filter options, or a catalog error saying how to install the package. */
export async function loadLiveKitCloudFilter(
  importer: (specifier: string) => Promise<unknown> = (specifier) => import(specifier),
): Promise<NoiseCancellationOptions> {
  let mod: LiveKitNcModule;
  try {
    mod = (await importer(LIVEKIT_NC_PACKAGE)) as LiveKitNcModule;
  } catch (err) {
    throw new NoiseSuppressionUnavailableError(
      'livekit-cloud',
      `${LIVEKIT_NC_PACKAGE} is not installed (npm install ${LIVEKIT_NC_PACKAGE}@0.2): ${(err as Error).message}`,
    );
  }
  return mod.TelephonyBackgroundVoiceCancellation();
}
