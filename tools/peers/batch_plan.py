"""dpo's training batch order, computed in Python, so that TRL can be fed the same batches.

A copy of `BatchLoader::epoch_plan` (dataloader/batch_loader.cpp) with the options `dpo train`
gives it (trainer/dpo_trainer.cpp: batch size = train.micro_batch_pairs, seed = train.seed,
shuffle on, length-grouping window of 16 batches, drop_last off):

  1. pair indices 0..n-1 shuffled by Fisher-Yates with std::mt19937_64 seeded with
     splitmix64(seed ^ splitmix64(epoch)) and an unbiased bounded draw (uniform_below);
  2. within windows of 16 * B pairs, a stable sort by the longer sequence, longest first;
  3. cut into batches of B pairs;
  4. the batch order shuffled with the same generator.

The harness does not trust this copy blindly: the per-step log-probs and rewards of the two runs
are compared, and a batch of other pairs would differ there by whole nats.
"""

MASK64 = (1 << 64) - 1
GROUP_BATCHES = 16  # BatchLoaderOptions::group_batches, the default dpo train uses


def splitmix64(x):
    """core/hash.h's splitmix64 finaliser."""
    x = (x + 0x9E3779B97F4A7C15) & MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
    return x ^ (x >> 31)


class MT19937_64:
    """std::mt19937_64 (the C++ standard fixes its parameters and seeding)."""

    N, M = 312, 156
    MATRIX_A = 0xB5026F5AA96619E9
    UPPER, LOWER = 0xFFFFFFFF80000000, 0x7FFFFFFF

    def __init__(self, seed):
        self.mt = [0] * self.N
        self.mt[0] = seed & MASK64
        for i in range(1, self.N):
            prev = self.mt[i - 1]
            self.mt[i] = (6364136223846793005 * (prev ^ (prev >> 62)) + i) & MASK64
        self.index = self.N

    def _twist(self):
        mt = self.mt
        for i in range(self.N):
            x = (mt[i] & self.UPPER) | (mt[(i + 1) % self.N] & self.LOWER)
            xa = x >> 1
            if x & 1:
                xa ^= self.MATRIX_A
            mt[i] = mt[(i + self.M) % self.N] ^ xa
        self.index = 0

    def __call__(self):
        if self.index >= self.N:
            self._twist()
        x = self.mt[self.index]
        self.index += 1
        x ^= (x >> 29) & 0x5555555555555555
        x ^= (x << 17) & 0x71D67FFFEDA60000
        x ^= (x << 37) & 0xFFF7EEE000000000
        x ^= x >> 43
        return x & MASK64


def uniform_below(rng, bound):
    threshold = ((1 << 64) - bound) % bound  # (0 - bound) % bound in uint64
    while True:
        x = rng()
        if x >= threshold:
            return x % bound


def portable_shuffle(values, rng):
    for i in range(len(values), 1, -1):
        j = uniform_below(rng, i)
        values[i - 1], values[j] = values[j], values[i - 1]


def epoch_plan(longer_lengths, batch_size, seed, epoch):
    """Pair indices of every batch of `epoch`, in order; longer_lengths[i] = max(chosen, rejected)
    sequence length (prompt + completion) of pair i of the train split."""
    n = len(longer_lengths)
    rng = MT19937_64(splitmix64((seed ^ splitmix64(epoch)) & MASK64))
    order = list(range(n))
    portable_shuffle(order, rng)
    window = GROUP_BATCHES * batch_size
    for start in range(0, n, window):
        # Python's sort is stable, as std::stable_sort.
        order[start:start + window] = sorted(order[start:start + window],
                                             key=lambda i: -longer_lengths[i])
    batches = [order[s:s + batch_size] for s in range(0, n, batch_size)]
    permutation = list(range(len(batches)))
    portable_shuffle(permutation, rng)
    return [batches[i] for i in permutation]


def training_batches(longer_lengths, batch_size, seed, steps):
    """The first `steps` batches dpo train draws (epochs roll over)."""
    out, epoch = [], 0
    while len(out) < steps:
        out.extend(epoch_plan(longer_lengths, batch_size, seed, epoch))
        epoch += 1
    return out[:steps]
