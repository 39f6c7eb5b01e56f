/** Settings of the telephony layer (src/telephony): audio, interruptions, DTMF, transfers. */
export const telephonySettings = {} as const;
