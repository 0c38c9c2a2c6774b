"""``tp.Embedding``: a lookup table from integer ids to vectors."""

from __future__ import annotations

from tripy import dtypes
from tripy.dtypes import DataType
from tripy.errors import raise_error
from tripy.export import public
from tripy.frontend.modules.module import Module
from tripy.frontend.modules.parameter import placeholder
from tripy.frontend.ops.shape import gather
from tripy.tensor import Tensor


@public
class Embedding(Module):
    """Rows of ``weight`` (``num_embeddings x embedding_dim``) picked by an int32/int64 tensor of ids.

    .. code-block:: python

        emb = tp.Embedding(4, 2)
        assert emb(tp.Tensor([3, 0])).tolist() == [[6.0, 7.0], [0.0, 1.0]]
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, dtype: DataType = dtypes.float32) -> None:
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.dtype = dtype
        self.weight = placeholder((num_embeddings, embedding_dim), dtype)

    def _settings(self) -> dict:
        return {"num_embeddings": self.num_embeddings, "embedding_dim": self.embedding_dim, "dtype": self.dtype}

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor) or x.dtype not in (dtypes.int32, dtypes.int64):
            raise_error(
                f"Embedding: the input must be an int32 or int64 tensor of ids, not "
                f"{getattr(x, 'dtype', type(x).__name__)}."
            )
        return gather(self.weight, 0, x)
