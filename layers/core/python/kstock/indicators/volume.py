"""On-balance volume (TA-Lib definition)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from kstock.indicators._rows import FloatArray, as_rows, before, first_valid


def obv(close: npt.ArrayLike, volume: npt.ArrayLike) -> FloatArray:
    """On-balance volume: ``obv[0] = volume[0]``; then a higher close adds the day's volume, a lower close
    subtracts it and an equal close adds nothing. No warm-up (lookback 0); a row starts at its first day
    with both a close and a volume.
    """
    (c, v), shape = as_rows(close, volume)
    starts = first_valid(c, v)
    change = np.zeros_like(c)
    change[:, 1:] = c[:, 1:] - c[:, :-1]
    # A NaN change compares false both ways and adds nothing, as in TA-Lib's loop.
    flow = np.where(change > 0, v, np.where(change < 0, -v, 0.0))
    lead = before(starts, c.shape[1])
    flow[lead] = 0.0
    first = np.take_along_axis(v, np.minimum(starts, max(c.shape[1] - 1, 0))[:, None], axis=1)
    at_start = np.arange(c.shape[1])[None, :] == starts[:, None]
    flow = np.where(at_start, first, flow)
    out = np.cumsum(flow, axis=1)
    out[lead] = np.nan
    return out.reshape(shape)
