"""The MNIST-1D generator compiled with numba: the same draws and arithmetic, no Python per example.

NumPy's legacy generator costs a Python call per draw, which caps any generator that calls it in
the reference order (`data.draw_randomness`). Here the Mersenne Twister stream of the global
generator is produced in bulk and parsed as the legacy methods parse it: a uniform is two
32-bit words (53 bits), `randint` masks a word and rejects values above its range, and `randn`
makes polar Box-Muller pairs from four words, rejecting points outside the unit disc. The
global generator is then left where the reference leaves it.

Importing this module imports numba; `data.make_dataset` does so only when numba is installed.
"""
import numpy as np
from numba import njit
from scipy.ndimage import gaussian_filter1d

from mnist1d.transform import CORR_NOISE_SIGMA, linear_resampling

MT_N, MT_M = 624, 397
TWO_POW_MINUS_53 = 1.0 / 9007199254740992.0  # exact: a power of two
TEMPER_B, TEMPER_C = 0x9D2C5680, 0xEFC60000


# ---- the Mersenne Twister stream, and the state after any prefix of it ----

@njit(cache=True)
def _twist(key):
    """MT19937's state update, in place on the 624-word key (three loops without wrap-around
    indexing, so that they vectorise)."""
    for i in range(MT_N - MT_M):
        y = (key[i] & 0x80000000) | (key[i + 1] & 0x7FFFFFFF)
        key[i] = key[i + MT_M] ^ (y >> 1) ^ ((y & 1) * 0x9908B0DF)
    for i in range(MT_N - MT_M, MT_N - 1):
        y = (key[i] & 0x80000000) | (key[i + 1] & 0x7FFFFFFF)
        key[i] = key[i + MT_M - MT_N] ^ (y >> 1) ^ ((y & 1) * 0x9908B0DF)
    y = (key[MT_N - 1] & 0x80000000) | (key[0] & 0x7FFFFFFF)
    key[MT_N - 1] = key[MT_M - 1] ^ (y >> 1) ^ ((y & 1) * 0x9908B0DF)


@njit(cache=True)
def _temper_into(key, out):
    for i in range(MT_N):
        y = np.int64(key[i])
        y ^= y >> 11
        y ^= (y << 7) & TEMPER_B
        y ^= (y << 15) & TEMPER_C
        out[i] = y ^ (y >> 18)


@njit(cache=True)
def _next_block(key, words):
    """Slide the two-block window of outputs on by one block (one twist)."""
    words[:MT_N] = words[MT_N:]
    _twist(key)
    _temper_into(key, words[MT_N:])


def untemper(words):
    """The key words whose tempered outputs are `words` (tempering is a bijection)."""
    y = words.astype(np.int64)
    y ^= y >> 18
    y ^= (y << 15) & TEMPER_C
    x = y
    for _ in range(5):  # undo y ^= (y << 7) & B, 7 more low bits right per pass
        x = y ^ ((x << 7) & TEMPER_B)
    y = x
    for _ in range(3):  # undo y ^= y >> 11, 11 more high bits right per pass
        x = y ^ (x >> 11)
    return x


def state_after(words, p):
    """The generator's (key, pos) after the word at p - 1 of a two-block window of outputs."""
    if p <= MT_N:
        return untemper(words[:MT_N]).astype(np.uint32), p
    return untemper(words[MT_N:]).astype(np.uint32), p - MT_N


# ---- the legacy draws and the transformation, one example after the other ----

@njit(cache=True)
def _uniform(words, p):
    """NumPy's legacy double from words p and p + 1."""
    return np.float64(((words[p] >> 5) << 26) | (words[p + 1] >> 6)) * TWO_POW_MINUS_53


@njit(cache=True)
def _draw(key, words, p, low, high, max_shift, pads, scales, shifts, x1s, x2s, r2s, shears):
    """Parse the generator's outputs into each example's draws, in the reference order.

    `words` is a window of two blocks of outputs, the next one at p; it slides on (and key
    twists) whenever p passes the first block, so a draw of up to four words always fits. The
    check is written out at each draw: as a function returning p it costs half the speed.
    Returns the final p. Gaussians are left as polar pairs (x1, x2, r2), logarithms to be
    taken at once afterwards: example i's gaussians are f * x2, f * x1 for each of its pairs,
    f = sqrt(-2 ln r2 / r2).
    """
    rng = max_shift - 1
    mask = rng
    for s in (1, 2, 4, 8, 16):
        mask |= mask >> s
    for i in range(len(pads)):
        if p >= MT_N:
            _next_block(key, words)
            p -= MT_N
        pads[i] = low + int(_uniform(words, p) * (high - low + 1))
        scales[i] = _uniform(words, p + 2)
        p += 4
        shift = 0
        if rng > 0:  # randint(0, 1) draws nothing
            while True:
                if p >= MT_N:
                    _next_block(key, words)
                    p -= MT_N
                shift = words[p] & mask
                p += 1
                if shift <= rng:
                    break
        shifts[i] = shift
        j = 0
        while j < x1s.shape[1]:  # a rejected pair is overwritten: no branch to mispredict
            if p >= MT_N:
                _next_block(key, words)
                p -= MT_N
            x1 = 2.0 * _uniform(words, p) - 1.0
            x2 = 2.0 * _uniform(words, p + 2) - 1.0
            p += 4
            r2 = x1 * x1 + x2 * x2
            x1s[i, j] = x1
            x2s[i, j] = x2
            r2s[i, j] = r2
            j += (r2 < 1.0) & (r2 != 0.0)
        if p >= MT_N:
            _next_block(key, words)
            p -= MT_N
        shears[i] = _uniform(words, p)
        p += 2
    return p


@njit(cache=True)
def _transform(label_ix, pads, scales, shifts, x1s, x2s, fs, shears, table, low, scale_coeff,
               corr_noise_scale, iid_noise_scale, shear_scale, weights, reflected,
               shear_line, interp_lo, interp_spacing, interp_offset, interp_at_last, out):
    """`data.transform_batch`, one example at a time. The noise filter is applied as scipy applies
    it, tap by tap over the signal extended by reflection, not as a matrix product."""
    length = table.shape[2]
    gauss = np.empty(2 * length)
    noise = np.empty(length)
    extended = np.empty(len(reflected))
    x = np.empty(length)
    for i in range(len(pads)):
        for j in range(length):
            gauss[2 * j] = fs[i, j] * x2s[i, j]
            gauss[2 * j + 1] = fs[i, j] * x1s[i, j]
        for k in range(len(reflected)):  # the correlated-noise gaussians, edges reflected
            extended[k] = corr_noise_scale * gauss[reflected[k]]
        noise[:] = 0.0
        for d in range(len(weights)):  # the Gaussian filter, a tap at a time: this vectorises
            for j in range(length):
                noise[j] += weights[d] * extended[j + d]
        row = table[label_ix[i], pads[i] - low]
        factor = 1 + scale_coeff * (scales[i] - 0.5)
        shift = shifts[i] if shifts[i] < length else 0
        coeff = shear_scale * (shears[i] - 0.5)
        for j in range(length):
            source = j - shift
            v = row[source + length if source < 0 else source] * factor
            if v == 0:
                v = noise[j]
            v = v + iid_noise_scale * gauss[length + j]
            x[j] = v - coeff * shear_line[j]
        for n in range(out.shape[1]):
            lo = interp_lo[n]
            if interp_at_last[n]:
                out[i, n] = x[length - 1]
            else:
                out[i, n] = (x[lo + 1] - x[lo]) / interp_spacing[n] * interp_offset[n] + x[lo]


# ---- the driver ----

def _filter_taps(length, sigma=CORR_NOISE_SIGMA, truncate=4.0):
    """The taps of scipy's `gaussian_filter1d` and, for a signal of this length, the source index
    of each point of the signal extended by the filter radius on both sides ('reflect' mode)."""
    radius = int(truncate * sigma + 0.5)
    impulse = np.zeros(4 * radius + 1)
    impulse[2 * radius] = 1.0
    weights = gaussian_filter1d(impulse, sigma, truncate=truncate)[radius:3 * radius + 1]
    k = np.arange(-radius, length + radius) % (2 * length)
    return weights, np.where(k < length, k, 2 * length - 1 - k)


def make_examples(label_ix, table, args, block=512):
    """`data.transform_batch(label_ix, data.draw_randomness(...), table, args)`, compiled.

    Draws from NumPy's global generator and leaves it in the state the reference leaves it in.
    Works through `block` examples at a time so that the scratch arrays stay in cache.
    """
    name, key, pos, has_gauss, _ = np.random.get_state()
    if has_gauss:
        raise ValueError("the global generator holds a cached gaussian; reseed it first")
    key = key.astype(np.int64)
    words = np.empty(2 * MT_N, np.int64)  # outputs of the current and the next key block
    _temper_into(key, words[:MT_N])
    _twist(key)
    _temper_into(key, words[MT_N:])

    num, length = len(label_ix), table.shape[2]
    low = args.padding[0]
    weights, reflected = _filter_taps(length)
    interpolation = linear_resampling(length, args.final_seq_length)
    pads, shifts = np.empty(block, np.int64), np.empty(block, np.int64)
    scales, shears = np.empty(block), np.empty(block)
    x1s, x2s, r2s, fs = (np.empty((block, length)) for _ in range(4))
    out = np.empty((num, args.final_seq_length))
    for start in range(0, num, block):
        n = min(block, num - start)
        draws = pads[:n], scales[:n], shifts[:n], x1s[:n], x2s[:n], r2s[:n], shears[:n]
        pos = _draw(key, words, pos, low, args.padding[1], args.max_translation, *draws)
        # f = sqrt(-2 ln(r2) / r2) of every polar pair, as legacy randn computes it
        f = np.log(r2s[:n], out=fs[:n])
        f *= -2.0
        f /= r2s[:n]
        np.sqrt(f, out=f)
        _transform(label_ix[start:start + n], pads[:n], scales[:n], shifts[:n], x1s[:n],
                   x2s[:n], f, shears[:n], table, low, args.scale_coeff, args.corr_noise_scale,
                   args.iid_noise_scale, args.shear_scale, weights, reflected,
                   np.linspace(-0.5, 0.5, length), *interpolation, out[start:start + n])
    np.random.set_state((name,) + state_after(words, pos) + (0, 0.0))
    return out
