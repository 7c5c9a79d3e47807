// An address whose connections are refused, reliably. Freeing an ephemeral port and reusing its
// number races with every other test file binding port 0 in parallel (a CI run once found another
// test's server there); port 1 is privileged and outside the ephemeral range, so no test takes it.
export const REFUSED_PORT = 1;
export const REFUSED_URL = `http://127.0.0.1:${REFUSED_PORT}/stacks`;
