// Limits shared by the layers that write dumps (capture) and read them (analyze), so that capture
// never produces what analysis would refuse.

/** Sample rounds: the most a capture takes and the most an analysis reads. */
export const MAX_ROUNDS = 10_000;
