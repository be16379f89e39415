"""The transformations that turn a digit template into an MNIST-1D example.

Two flavours of each step:
- the per-example functions (`pad`, `shear`, ...) keep the signatures of the original
  `mnist1d` package and draw their randomness from NumPy's global generator;
- the `*_batch` functions take the random draws as arguments and apply the same arithmetic
  to a whole batch of examples (rows of a 2-D array), so that `make_dataset` can draw in the
  reference order and then compute everything at once.
"""
import functools

import numpy as np

# scipy is imported in the functions that use it: `import mnist1d` (every pipeline job) then costs
# no scipy, about 0.3 s of CPU that the figure and table jobs do not need.

CORR_NOISE_SIGMA = 2


def pad(x, padding):
    """Append a random number p of zeros to x, low <= p <= high for padding = (low, high)."""
    low, high = padding
    p = low + int(np.random.rand() * (high - low + 1))
    return np.concatenate([x, np.zeros(x.shape[:-1] + (p,))], axis=-1)


def shear(x, scale=10):
    """Subtract a random linear trend (a shear) of slope scale * (U - 0.5)."""
    coeff = scale * (np.random.rand() - 0.5)
    return x - coeff * np.linspace(-0.5, 0.5, len(x))


def effective_shift(k, length):
    """The reference rolls by k only when k < length; a longer shift leaves x as it is."""
    return np.where(k < length, k, 0)


def translate(x, max_translation):
    """Roll x right by k ~ uniform{0, ..., max_translation - 1} (k >= len(x): no change)."""
    k = np.random.choice(max_translation)
    return np.roll(x, effective_shift(k, len(x)))


def corr_noise_like(x, scale):
    """Gaussian noise of std `scale`, smoothed by a Gaussian filter of sigma 2."""
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(scale * np.random.randn(*x.shape), CORR_NOISE_SIGMA)


def iid_noise_like(x, scale):
    """Independent Gaussian noise of std `scale`, shaped like x."""
    return scale * np.random.randn(*x.shape)


def interpolate(x, N):
    """Linearly resample x (along axis 0) onto N evenly spaced points; the ends stay the ends."""
    from scipy.interpolate import interp1d

    old_grid = np.linspace(0, 1, len(x))
    return interp1d(old_grid, x, axis=0, kind="linear")(np.linspace(0, 1, N))


def transform(x, y, args, eps=1e-8):
    """Turn one template x (on time axis y) into one example; returns (example, time axis)."""
    dilated_len = args.template_len + args.padding[-1]
    new_x = interpolate(pad(x + eps, args.padding), dilated_len)
    new_y = interpolate(y, dilated_len)
    new_x = new_x * (1 + args.scale_coeff * (np.random.rand() - 0.5))
    new_x = translate(new_x, args.max_translation)
    is_signal = new_x != 0
    new_x = is_signal * new_x + (1 - is_signal) * corr_noise_like(new_x, args.corr_noise_scale)
    new_x = new_x + iid_noise_like(new_x, args.iid_noise_scale)
    new_x = shear(new_x, args.shear_scale)
    return interpolate(new_x, args.final_seq_length), interpolate(new_y, args.final_seq_length)


# ---- batched arithmetic: one row per example, draws given ----

def linear_resampling(old_len, N):
    """How `interpolate` maps old_len points onto N: per new point the left node `lo` (the one
    <= the point, so a point on a node takes that node's value exactly), the node spacing
    old_grid[lo + 1] - old_grid[lo], the offset new_grid - old_grid[lo], and whether the point
    is the last node."""
    old_grid = np.linspace(0, 1, old_len)
    new_grid = np.linspace(0, 1, N)
    lo = np.clip(np.searchsorted(old_grid, new_grid, side="right") - 1, 0, old_len - 2)
    return lo, old_grid[lo + 1] - old_grid[lo], new_grid - old_grid[lo], new_grid == old_grid[-1]


def interpolate_batch(x, N):
    """`interpolate` applied to every row of x, element for element.

    For 1-D input scipy's linear interp1d is np.interp, whose arithmetic this repeats
    (`linear_resampling`): the exact zeros of the padding stay exact zeros.
    """
    lo, spacing, offset, at_last_node = linear_resampling(x.shape[-1], N)
    y_lo, y_hi = x[..., lo], x[..., lo + 1]
    slope = (y_hi - y_lo) / spacing
    out = slope * offset + y_lo
    out[..., at_last_node] = x[..., -1:]
    return out


def scale_batch(x, uniforms, scale_coeff):
    return x * (1 + scale_coeff * (uniforms[:, None] - 0.5))


def translate_batch(x, shifts):
    """Roll row i of x right by shifts[i], as `translate` does."""
    length = x.shape[-1]
    shifts = effective_shift(shifts, length)
    source = (np.arange(length)[None, :] - shifts[:, None]) % length
    return np.take_along_axis(x, source, axis=-1)


@functools.lru_cache(maxsize=8)
def gaussian_filter_matrix(length, sigma=CORR_NOISE_SIGMA):
    """M with v @ M == gaussian_filter(v, sigma) for any v of this length (the filter is linear)."""
    from scipy.ndimage import gaussian_filter1d

    return gaussian_filter1d(np.eye(length), sigma, axis=-1)


def replace_zeros_with_corr_noise_batch(x, gaussians, scale):
    """Where a row is exactly 0 (the padding), put smoothed noise made from `gaussians`."""
    noise = (scale * gaussians) @ gaussian_filter_matrix(x.shape[-1])
    return np.where(x != 0, x, noise)  # bitwise equal to mask * x + (1 - mask) * noise


def shear_batch(x, uniforms, shear_scale):
    coeff = shear_scale * (uniforms - 0.5)
    return x - coeff[:, None] * np.linspace(-0.5, 0.5, x.shape[-1])
