/**
 * Warm transfer on a self-hosted LiveKit server (src/telephony/transfer/warm-transfer.ts,
 * docs/transfers.md), on the real stack and judged from what the two phones recorded.
 *
 * Caller phone A dials the receptionist and asks for an engineer; the LLM stand-in says it will
 * put them on hold and calls the warm transfer tool with a summary. The agent publishes hold
 * audio, dials the human's phone B through an outbound trunk into the same room, and a second
 * (consultation) session briefs B while A stays on hold. From the moment B rings, A's phone
 * sends a 440 Hz tone; after the bridge B's phone sends 1 kHz. Then:
 *   - during the consultation A's recording holds the hold chime and no speech (none of the
 *     briefing, none of B's answer), while A was sending its tone all along;
 *   - B's recording holds the briefing (with the summary) and none of A's tone or the chime;
 *   - after B accepts (speech "yes" through the STT stand-in and the consultation's LLM tool,
 *     or key 1) A hears B's tone and B hears A's, and nothing else: the agent's voices and the
 *     hold audio are gone and the agent publishes nothing any more;
 *   - either side hanging up ends the call: the other phone gets a BYE, the room goes.
 * The flow and the judging: support/warm-transfer.ts (`npm run bench:reliability` repeats them).
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { type Product, startProduct } from '../../stack/product.js';
import {
  judgeWarmTransfer,
  prepareWarmTransfers,
  type WarmScene,
  warmTransfer,
  warmTransferProduct,
} from './support/warm-transfer.js';

let product: Product;
let scene: WarmScene;

beforeAll(async () => {
  product = await startProduct(warmTransferProduct());
  scene = await prepareWarmTransfers(product);
}, 240_000);

afterAll(async () => {
  await product?.stop();
});

describe('warm transfer on the self-hosted server: briefed apart, then bridged', () => {
  it('accepted by speech ("yes" → accept_transfer); the human hangs up, the caller gets a BYE', async () => {
    const caller = await product.phone({ user: '+15550000001', micSeconds: 150 });
    const run = await warmTransfer(scene, caller, 'speech', 'human');
    console.log(JSON.stringify(judgeWarmTransfer(run)));
  }, 90_000);

  it('accepted with key 1; the caller hangs up, the human gets a BYE', async () => {
    const caller = await product.phone({ user: '+15550000002', micSeconds: 150 });
    const run = await warmTransfer(scene, caller, 'key', 'caller');
    console.log(JSON.stringify(judgeWarmTransfer(run)));
  }, 90_000);
});
