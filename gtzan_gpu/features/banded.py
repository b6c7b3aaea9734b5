"""BandedMatrix: a product with a matrix whose rows each touch one contiguous run of columns, done block by block.

The spectrogram image's frequency map is such a matrix (each image row averages a run of neighbouring STFT bins):
dense it is ``128 x 1025`` multiply-adds per frame, of which about 1,150 are non-zero. Cut into a few row blocks,
each multiplied only by the columns its rows touch, it costs about an eighth of the dense product, in a handful of
ordinary fp32 matmuls (no sparse formats, so ``torch.compile`` traces it whole and the GPU runs cuBLAS).
"""
from __future__ import annotations

import torch
from torch import nn

BLOCK_COST = 512   # what one more block costs, in multiply-adds per input row (a matmul call's fixed overhead)
ROW_STEP = 16      # blocks start at multiples of this many rows: CPU matmul kernels are fastest at vector widths


def plan_blocks(matrix: torch.Tensor, block_cost: int = BLOCK_COST,
                row_step: int = ROW_STEP) -> list[tuple[int, int, int, int]]:
    """``(R, C)`` matrix -> ``[(row_start, row_stop, column_start, column_stop), ...]``: contiguous row blocks
    (cut at multiples of ``row_step``), each with the run of columns its rows touch, chosen by dynamic
    programming over the cuts to minimise the multiply-adds plus ``block_cost`` per block. Every non-zero lies
    inside its row's block."""
    nonzero = matrix != 0
    rows = matrix.shape[0]
    touched = nonzero.any(dim=1)
    first = torch.where(touched, nonzero.float().argmax(dim=1), matrix.shape[1]).tolist()
    last = torch.where(touched, matrix.shape[1] - 1 - nonzero.flip(1).float().argmax(dim=1), -1).tolist()
    best = [0.0] + [float("inf")] * rows  # best[j]: cheapest plan for rows [0, j)
    cut = [0] * (rows + 1)
    cuts = sorted(set(range(0, rows, row_step)) | {rows})
    for stop in cuts[1:]:
        for start in [c for c in cuts if c < stop]:
            low, high = min(first[start:stop]), max(last[start:stop])
            cost = best[start] + (stop - start) * max(high - low + 1, 0) + block_cost
            if cost < best[stop]:
                best[stop], cut[stop] = cost, start
    blocks, stop = [], rows
    while stop > 0:
        start = cut[stop]
        low, high = min(first[start:stop]), max(last[start:stop])
        blocks.append((start, stop, low, max(high + 1, low)))
        stop = start
    return blocks[::-1]


class BandedMatrix(nn.Module):
    """``(..., C)`` -> ``(..., R)``: ``x @ matrix.T`` for an ``(R, C)`` matrix, by the row blocks of
    :func:`plan_blocks` (fp32 matmuls; exact up to the order of the sums)."""

    def __init__(self, matrix: torch.Tensor, block_cost: int = BLOCK_COST, row_step: int = ROW_STEP):
        super().__init__()
        self.blocks = plan_blocks(matrix, block_cost, row_step)
        self.out_features, self.in_features = matrix.shape
        for index, (row_start, row_stop, column_start, column_stop) in enumerate(self.blocks):
            weights = matrix[row_start:row_stop, column_start:column_stop].t().contiguous().float()
            self.register_buffer(f"block_{index}", weights, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = [x[..., column_start:column_stop] @ getattr(self, f"block_{index}")
                 for index, (_, _, column_start, column_stop) in enumerate(self.blocks)]
        return torch.cat(parts, dim=-1)

    def extra_repr(self) -> str:
        touched = sum((r1 - r0) * (c1 - c0) for r0, r1, c0, c1 in self.blocks)
        return (f"in_features={self.in_features}, out_features={self.out_features}, blocks={len(self.blocks)}, "
                f"multiply_adds={touched} (dense {self.in_features * self.out_features})")
